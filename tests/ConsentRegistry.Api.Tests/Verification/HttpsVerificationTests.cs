using System.Net;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Verification;

/// <summary>Production settings: the file is fetched over https only, from public addresses only.</summary>
public sealed class HttpsVerificationTests(ProductionVerificationFixture registry) : IClassFixture<ProductionVerificationFixture>
{
    [Fact]
    public async Task A_host_serving_the_file_over_https_is_verified()
    {
        using var artist = new TestSigner();
        registry.Network.Route("secure.test", "151.101.1.1", registry.Tls.Port);
        string? userAgent = null;
        registry.Tls.Serve("secure.test", context =>
        {
            userAgent = context.Request.Headers.UserAgent;
            return context.Response.WriteAsJsonAsync(new { keys = new[] { artist.Party } });
        });
        var (claim, _) = await registry.SubmitAsync(artist, new JsonObject { ["train-ai"] = "y" }, TestSigner.Url("https://secure.test/art.png"));

        var response = await registry.VerifyAsync(artist.Party, "secure.test");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("domain", await registry.TrustOfAsync(claim));
        Assert.StartsWith("ConsentRegistry-DomainVerifier/", userAgent);
        Assert.Contains(registry.App.Logs, line => line.Contains("Domain verification of secure.test", StringComparison.Ordinal) && line.Contains("verified", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_redirect_from_https_to_http_is_refused_as_an_insecure_scheme()
    {
        using var artist = new TestSigner();
        registry.Network.Route("downgrade.test", "151.101.1.2", registry.Tls.Port);
        registry.Tls.Serve("downgrade.test", WellKnownServer.Redirect("http://downgrade.test" + WellKnownServer.DocumentPath));
        registry.Plain.ServeKeys("downgrade.test", artist.Party);
        var requests = registry.Plain.Requests;

        var response = await registry.VerifyAsync(artist.Party, "downgrade.test");

        await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "insecure-scheme");
        Assert.Equal(requests, registry.Plain.Requests);
    }

    [Fact]
    public async Task A_host_that_speaks_only_plain_http_is_not_fetched_over_http()
    {
        using var artist = new TestSigner();
        registry.Network.Route("plain.test", "151.101.1.3", registry.Plain.Port);
        registry.Plain.ServeKeys("plain.test", artist.Party);

        var response = await registry.VerifyAsync(artist.Party, "plain.test");

        await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "fetch-failed");
    }

    [Fact]
    public async Task A_certificate_the_system_does_not_trust_is_refused()
    {
        using var artist = new TestSigner();
        registry.Network.Route("untrusted.test", "151.101.1.4", registry.Tls.Port);
        registry.Tls.ServeKeys("untrusted.test", artist.Party);
        var trusted = registry.Network.TrustedCertificate;
        registry.Network.TrustedCertificate = null;
        try
        {
            var response = await registry.VerifyAsync(artist.Party, "untrusted.test");

            var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "fetch-failed");
            Assert.Contains("certificate", problem.GetProperty("detail").GetString());
        }
        finally
        {
            registry.Network.TrustedCertificate = trusted;
        }
    }

    [Fact]
    public async Task A_self_signed_certificate_is_refused_by_the_production_certificate_validation()
    {
        // No test callback: the system's own validation, the one production runs, judges the certificate.
        await using var production = await VerificationFixture.StartAsync<SystemTrustVerificationFixture>();
        using var artist = new TestSigner();
        production.Network.Route("selfsigned.test", "151.101.1.5", production.Tls.Port);
        production.Tls.ServeKeys("selfsigned.test", artist.Party);

        var response = await production.VerifyAsync(artist.Party, "selfsigned.test");

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnprocessableEntity, "fetch-failed");
        Assert.Contains("certificate", problem.GetProperty("detail").GetString());
        Assert.Contains(production.Network.Connections, endpoint => endpoint.Address.Equals(IPAddress.Parse("151.101.1.5")));
        Assert.Equal(0, production.Tls.Requests);
    }
}

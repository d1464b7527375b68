using System.Net;
using System.Text.Json;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace ConsentRegistry.Api.Tests.Verification;

/// <summary>
/// The SSRF guards with AllowPrivateAddresses off. Names resolve to made-up public addresses
/// that the fake network routes to a loopback test server; nothing leaves loopback.
/// </summary>
public sealed class VerificationGuardTests(GuardedVerificationFixture registry) : IClassFixture<GuardedVerificationFixture>
{
    private static readonly string Party = new TestSigner().Party;

    private void Host(string host, string address, RequestDelegate site)
    {
        registry.Network.AddHost(host, address);
        registry.Network.StandIn(address, registry.Plain.Port);
        registry.Plain.Serve(host, site);
    }

    private async Task<JsonElement> FailureAsync(string host)
    {
        var response = await registry.VerifyAsync(Party, host);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.JsonAsync();
        Assert.EndsWith("verification-failed", problem.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        return problem;
    }

    private static string Code(JsonElement problem) => problem.GetProperty("code").GetString()!;

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("10.0.0.1")]
    [InlineData("169.254.169.254")]
    [InlineData("[::1]")]
    [InlineData("[::ffff:127.0.0.1]")]
    [InlineData("0.0.0.0")]
    public async Task Address_literals_outside_the_public_internet_are_refused_before_any_connection(string host)
    {
        var connections = registry.Network.Connections.Count;
        var requests = registry.Plain.Requests;
        registry.Network.StandIn("127.0.0.1", registry.Plain.Port);

        var problem = await FailureAsync(host);

        Assert.Equal("address-refused", Code(problem));
        Assert.Equal(connections, registry.Network.Connections.Count);
        Assert.Equal(requests, registry.Plain.Requests);
    }

    [Fact]
    public async Task A_name_that_resolves_to_a_private_address_is_refused_without_connecting()
    {
        registry.Network.AddHost("evil.test", "10.0.0.1");
        var connections = registry.Network.Connections.Count;

        var problem = await FailureAsync("evil.test");

        Assert.Equal("address-refused", Code(problem));
        Assert.DoesNotContain("10.0.0.1", problem.GetProperty("detail").GetString());
        Assert.Equal(connections, registry.Network.Connections.Count);
    }

    [Fact]
    public async Task A_redirect_to_another_host_is_refused_and_that_host_is_never_looked_up()
    {
        Host("hop.test", "151.101.0.1", WellKnownServer.Redirect("http://elsewhere.test" + WellKnownServer.DocumentPath));

        Assert.Equal("redirect-refused", Code(await FailureAsync("hop.test")));
        Assert.DoesNotContain("elsewhere.test", registry.Network.Lookups);
    }

    [Fact]
    public async Task A_public_host_that_redirects_to_a_loopback_address_is_refused()
    {
        Host("to-loopback.test", "151.101.0.2", WellKnownServer.Redirect("http://127.0.0.1" + WellKnownServer.DocumentPath));

        Assert.Equal("redirect-refused", Code(await FailureAsync("to-loopback.test")));
    }

    [Fact]
    public async Task A_same_host_redirect_is_vetted_again_so_a_name_rebound_to_loopback_is_refused()
    {
        registry.Network.AddHost("rebind.test", [IPAddress.Parse("151.101.0.3")], [IPAddress.Loopback]);
        registry.Network.StandIn("151.101.0.3", registry.Plain.Port);
        registry.Network.StandIn("127.0.0.1", registry.Plain.Port);
        registry.Plain.Serve("rebind.test", WellKnownServer.Redirect(WellKnownServer.DocumentPath + "?again"));

        Assert.Equal("address-refused", Code(await FailureAsync("rebind.test")));
        Assert.DoesNotContain(registry.Network.Connections, endpoint => IPAddress.IsLoopback(endpoint.Address));
    }

    [Fact]
    public async Task Endless_same_host_redirects_are_refused()
    {
        Host("loop.test", "151.101.0.4", WellKnownServer.Redirect(WellKnownServer.DocumentPath));

        Assert.Equal("redirect-refused", Code(await FailureAsync("loop.test")));
    }

    [Fact]
    public async Task A_document_over_64_kb_is_refused_as_too_large()
    {
        Host("big.test", "151.101.0.5", async context =>
        {
            var chunk = new byte[10 * 1024];
            chunk.AsSpan().Fill((byte)' ');
            for (var i = 0; i < 10 && !context.RequestAborted.IsCancellationRequested; i++)
            {
                await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
            }
        });

        Assert.Equal("too-large", Code(await FailureAsync("big.test")));
    }

    [Fact]
    public async Task A_server_slower_than_the_timeout_gets_timeout()
    {
        Host("slow.test", "151.101.0.6", async context => await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted));
        var started = DateTime.UtcNow;

        Assert.Equal("timeout", Code(await FailureAsync("slow.test")));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData("{\"keys\": [")]
    [InlineData("{\"keys\": \"one\"}")]
    [InlineData("[\"a\"]")]
    [InlineData("{\"keys\": [1, 2]}")]
    public async Task A_malformed_document_is_an_invalid_document(string document)
    {
        var host = $"broken-{document.Length}-{(uint)document.GetHashCode()}.test";
        Host(host, "151.101.0.7", context => context.Response.WriteAsync(document));

        Assert.Equal("invalid-document", Code(await FailureAsync(host)));
    }

    [Fact]
    public async Task A_document_without_the_partys_key_says_key_not_listed()
    {
        using var other = new TestSigner();
        Host("nokey.test", "151.101.0.8", context => context.Response.WriteAsJsonAsync(new { keys = new[] { other.Party } }));

        var problem = await FailureAsync("nokey.test");

        Assert.Equal("key-not-listed", Code(problem));
        Assert.Contains(Party, problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("missing.test", 404)]
    [InlineData("failing.test", 500)]
    public async Task A_status_other_than_200_is_fetch_failed(string host, int status)
    {
        Host(host, "151.101.0.9", context =>
        {
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        });

        Assert.Equal("fetch-failed", Code(await FailureAsync(host)));
    }

    [Fact]
    public async Task A_host_without_an_address_is_fetch_failed()
    {
        Assert.Equal("fetch-failed", Code(await FailureAsync("no-such-host.test")));
    }

    [Fact]
    public async Task Host_names_that_urls_allow_but_dns_does_not_are_fetch_failed_not_a_server_error()
    {
        Assert.Equal("fetch-failed", Code(await FailureAsync("odd!name$.test")));
    }

    [Theory]
    [InlineData(300, 40)]  // 300 characters in all
    [InlineData(70, 70)]   // one label of 70
    [InlineData(254, 60)]  // one over the 253 DNS allows
    public async Task A_host_longer_than_dns_allows_is_a_400_naming_host(int length, int labelLength)
    {
        var labels = new List<string>();
        for (var left = length; left > 0; left -= labelLength + 1)
        {
            labels.Add(new string('a', Math.Min(labelLength, left)));
        }

        var host = string.Join('.', labels);
        var requests = registry.Plain.Requests;

        var response = await registry.VerifyAsync(Party, host);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True((await response.JsonAsync()).GetProperty("errors").TryGetProperty("host", out _));
        Assert.Equal(requests, registry.Plain.Requests);
    }

    [Fact]
    public async Task A_host_at_the_dns_limits_is_looked_up()
    {
        var host = string.Join('.', new string('a', 63), new string('b', 63), new string('c', 63), new string('d', 61)); // 253

        Assert.Equal("fetch-failed", Code(await FailureAsync(host)));
        Assert.Contains(host, registry.Network.Lookups);
    }

    [Theory]
    [InlineData("not-a-party", "artist.test", "party")]
    [InlineData("{party}", "artist.test:8443", "host")]
    [InlineData("{party}", "user@artist.test", "host")]
    [InlineData("{party}", "bad^host.test", "host")]
    public async Task A_bad_party_or_host_is_a_400_naming_the_field(string party, string host, string field)
    {
        var response = await registry.Client.PostAsync($"/v1/parties/{party.Replace("{party}", Party)}/domains/{Uri.EscapeDataString(host)}/verify", null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.JsonAsync();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
    }
}

using System.Net;
using System.Text.Json;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Verification;

/// <summary>
/// The SSRF guards with AllowPrivateAddresses off. Names resolve to made-up public addresses
/// that the fake network routes to a loopback test server; nothing leaves loopback.
/// </summary>
public sealed class VerificationGuardTests(GuardedVerificationFixture registry) : IClassFixture<GuardedVerificationFixture>
{
    private static readonly string Party = new TestSigner().Party;

    /// <summary>Verifying <paramref name="host"/> fails with a 422 verification-failed problem of code <paramref name="code"/>, saying why.</summary>
    private async Task<JsonElement> FailureAsync(string host, string code)
    {
        var problem = await AssertProblemAsync(await registry.VerifyAsync(Party, host), HttpStatusCode.UnprocessableEntity, code);
        Assert.EndsWith("verification-failed", problem.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        return problem;
    }

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

        await FailureAsync(host, "address-refused");

        Assert.Equal(connections, registry.Network.Connections.Count);
        Assert.Equal(requests, registry.Plain.Requests);
    }

    [Fact]
    public async Task A_name_that_resolves_to_a_private_address_is_refused_without_connecting()
    {
        registry.Network.AddHost("evil.test", "10.0.0.1");
        var connections = registry.Network.Connections.Count;

        var problem = await FailureAsync("evil.test", "address-refused");

        Assert.DoesNotContain("10.0.0.1", problem.GetProperty("detail").GetString());
        Assert.Equal(connections, registry.Network.Connections.Count);
    }

    /// <summary>
    /// A redirect's body is not read: the connection is closed, not drained (.NET drains up to
    /// 1 MiB of an unread body to reuse the connection, outside the fetch's timeout), so a fetch
    /// reads at most its 64 KB limit and the headers, whatever the site sends.
    /// </summary>
    [Fact]
    public async Task A_redirect_with_a_body_of_four_mebibytes_costs_the_verifier_no_more_than_the_file()
    {
        using var artist = new TestSigner();
        var body = new byte[4 << 20];
        registry.Site("drained.test", "151.101.0.77", async context =>
        {
            if (!context.Request.QueryString.HasValue)
            {
                context.Response.StatusCode = StatusCodes.Status302Found;
                context.Response.Headers.Location = WellKnownServer.DocumentPath + "?moved";
                await context.Response.Body.WriteAsync(body);
                return;
            }

            await context.Response.WriteAsJsonAsync(new { keys = new[] { artist.Party } });
        });

        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "drained.test")).StatusCode);
        await Task.Delay(TimeSpan.FromSeconds(3)); // a drain goes on in the background for up to 2 s

        var read = registry.Network.BytesRead.GetValueOrDefault(IPAddress.Parse("151.101.0.77"));
        Assert.True(read < 256 * 1024, $"The verifier read {read:N0} bytes from the site.");
    }

    [Fact]
    public async Task A_redirect_to_another_host_is_refused_and_that_host_is_never_looked_up()
    {
        registry.Site("hop.test", "151.101.0.1", WellKnownServer.Redirect("http://elsewhere.test" + WellKnownServer.DocumentPath));

        await FailureAsync("hop.test", "redirect-refused");
        Assert.DoesNotContain("elsewhere.test", registry.Network.Lookups);
    }

    /// <summary>
    /// A redirect to a loopback address literal is another host: the same-host rule refuses it
    /// before any address is looked at (each hop resolves and vets the verified host itself; the
    /// vetting of a redirect's addresses is the rebinding test's below).
    /// </summary>
    [Fact]
    public async Task A_public_host_that_redirects_to_a_loopback_address_literal_is_refused_as_another_host_without_connecting_to_it()
    {
        registry.Network.StandIn("127.0.0.1", registry.Plain.Port);
        registry.Site("to-loopback.test", "151.101.0.2", WellKnownServer.Redirect("http://127.0.0.1" + WellKnownServer.DocumentPath));
        int LoopbackConnections() => registry.Network.Connections.Count(endpoint => IPAddress.IsLoopback(endpoint.Address));
        var before = LoopbackConnections();

        var problem = await FailureAsync("to-loopback.test", "redirect-refused");

        Assert.Contains("redirected the registry to another host", problem.GetProperty("detail").GetString());
        Assert.Equal(before, LoopbackConnections());
    }

    /// <summary>
    /// The address check on a redirect's hop: the redirect stays on the same host, which the
    /// registry resolves again, and this time the name answers loopback. Refused for its address,
    /// before connecting, not followed round to the redirect limit.
    /// </summary>
    [Fact]
    public async Task A_same_host_redirect_is_vetted_again_so_a_name_rebound_to_loopback_is_refused()
    {
        registry.Network.AddHost("rebind.test", [IPAddress.Parse("151.101.0.3")], [IPAddress.Loopback]);
        registry.Network.StandIn("151.101.0.3", registry.Plain.Port);
        registry.Network.StandIn("127.0.0.1", registry.Plain.Port);
        registry.Plain.Serve("rebind.test", WellKnownServer.Redirect(WellKnownServer.DocumentPath + "?again"));

        await FailureAsync("rebind.test", "address-refused");
        Assert.DoesNotContain(registry.Network.Connections, endpoint => IPAddress.IsLoopback(endpoint.Address));
    }

    [Fact]
    public async Task Endless_same_host_redirects_are_refused()
    {
        registry.Site("loop.test", "151.101.0.4", WellKnownServer.Redirect(WellKnownServer.DocumentPath));

        await FailureAsync("loop.test", "redirect-refused");
    }

    [Fact]
    public async Task A_document_over_64_kb_is_refused_as_too_large()
    {
        registry.Site("big.test", "151.101.0.5", async context =>
        {
            var chunk = new byte[10 * 1024];
            chunk.AsSpan().Fill((byte)' ');
            for (var i = 0; i < 10 && !context.RequestAborted.IsCancellationRequested; i++)
            {
                await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
            }
        });

        await FailureAsync("big.test", "too-large");
    }

    [Fact]
    public async Task A_server_slower_than_the_timeout_gets_timeout()
    {
        registry.Site("slow.test", "151.101.0.6", async context => await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted));
        var started = DateTime.UtcNow;

        await FailureAsync("slow.test", "timeout");
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
        registry.Site(host, "151.101.0.7", context => context.Response.WriteAsync(document));

        await FailureAsync(host, "invalid-document");
    }

    [Fact]
    public async Task A_document_without_the_partys_key_says_key_not_listed()
    {
        using var other = new TestSigner();
        registry.Site("nokey.test", "151.101.0.8", context => context.Response.WriteAsJsonAsync(new { keys = new[] { other.Party } }));

        var problem = await FailureAsync("nokey.test", "key-not-listed");

        Assert.Contains(Party, problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("missing.test", 404)]
    [InlineData("failing.test", 500)]
    public async Task A_status_other_than_200_is_fetch_failed(string host, int status)
    {
        registry.Site(host, "151.101.0.9", context =>
        {
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        });

        await FailureAsync(host, "fetch-failed");
    }

    [Fact]
    public async Task A_host_without_an_address_is_fetch_failed()
    {
        await FailureAsync("no-such-host.test", "fetch-failed");
    }

    [Fact]
    public async Task Host_names_that_urls_allow_but_dns_does_not_are_fetch_failed_not_a_server_error()
    {
        await FailureAsync("odd!name$.test", "fetch-failed");
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

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-path");
        Assert.True(problem.GetProperty("errors").TryGetProperty("host", out _));
        Assert.Equal(requests, registry.Plain.Requests);
    }

    [Fact]
    public async Task A_host_at_the_dns_limits_is_looked_up()
    {
        var host = string.Join('.', new string('a', 63), new string('b', 63), new string('c', 63), new string('d', 61)); // 253

        await FailureAsync(host, "fetch-failed");
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

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-path");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
    }
}

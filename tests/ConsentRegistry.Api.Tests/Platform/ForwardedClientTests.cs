using System.Net;
using System.Text;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Platform;

/// <summary>
/// Behind a reverse proxy every request comes from the proxy: the per-address limits count the
/// client that X-Forwarded-For names only when the peer is a trusted proxy (Registry:Proxy:TrustedNetworks).
/// </summary>
public sealed class ForwardedClientTests
{
    [Fact]
    public async Task Behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, Settings(trusted: true));

        await AssertProblemAsync(await UnknownKeyAsync(app, "203.0.113.5"), HttpStatusCode.Unauthorized, "unauthorized");
        await AssertProblemAsync(await UnknownKeyAsync(app, "203.0.113.5"), HttpStatusCode.TooManyRequests, "too-many-requests");

        // Another client behind the same proxy, and one that names a hop before the proxy: their own budgets.
        await AssertProblemAsync(await UnknownKeyAsync(app, "203.0.113.6"), HttpStatusCode.Unauthorized, "unauthorized");
        await AssertProblemAsync(await UnknownKeyAsync(app, "198.51.100.7, 203.0.113.5"), HttpStatusCode.TooManyRequests, "too-many-requests");
    }

    [Fact]
    public async Task Without_a_trusted_proxy_a_forwarded_address_changes_nothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, Settings(trusted: false));

        await AssertProblemAsync(await UnknownKeyAsync(app, "203.0.113.5"), HttpStatusCode.Unauthorized, "unauthorized");
        await AssertProblemAsync(await UnknownKeyAsync(app, "203.0.113.6"), HttpStatusCode.TooManyRequests, "too-many-requests");
    }

    [Fact]
    public async Task A_trusted_network_that_is_not_cidr_stops_the_start_with_a_message_saying_how_to_write_it()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Proxy:TrustedNetworks:0"] = "10.0.0.7/8" });

        var error = Assert.ThrowsAny<Exception>(app.StartServer);

        Assert.Contains("Registry:Proxy:TrustedNetworks:0 is '10.0.0.7/8', not a network in CIDR form", error.ToString());
    }

    private static Dictionary<string, string?> Settings(bool trusted)
    {
        var settings = new Dictionary<string, string?> { ["Registry:Auth:UnknownKeysPerMinutePerAddress"] = "1" };
        if (trusted)
        {
            settings["Registry:Proxy:TrustedNetworks:0"] = "127.0.0.0/8";
            settings["Registry:Proxy:TrustedNetworks:1"] = "::1/128";
        }

        return settings;
    }

    private static async Task<HttpResponseMessage> UnknownKeyAsync(RegistryApp app, string forwardedFor)
    {
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/lookup")
        {
            Content = new StringContent("""{"items":[{"url":"https://a.example/"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("Authorization", "API crk_0000000000000000_unknown");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", forwardedFor);
        return await client.SendAsync(request);
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Lookup;

public sealed class LookupInstancesTests
{
    internal static async Task<string?> TrainAiAsync(HttpClient client, string url)
    {
        var response = await client.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { url } } });
        return (await response.JsonAsync()).GetProperty("results")[0].GetProperty("decision").GetProperty("train-ai").GetString();
    }

    [Fact]
    public async Task A_restarted_instance_builds_its_index_from_the_store_before_it_is_ready()
    {
        using var signer = new TestSigner();
        await using var first = await RegistryApp.StartAsync();
        using (var client = first.CreateClient())
        {
            await client.PostAsync("/v1/claims", Jose(signer.Sign(TestSigner.Claim(
                [TestSigner.Subject("url-prefix", "https://rebuilt.example/art/"), TestSigner.Subject("host", "whole.example")],
                new System.Text.Json.Nodes.JsonObject { ["tdm"] = "n" }))));
        }

        await using var restarted = new RegistryApp(first.Database);
        restarted.StartServer();
        using var reader = restarted.CreateClient();

        // Ready (200) only once the index is built; lookups then see everything in the store.
        var clock = Stopwatch.StartNew();
        HttpResponseMessage ready;
        while ((ready = await reader.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            await Task.Delay(20);
        }

        Assert.Equal("Healthy", (await ready.JsonAsync()).GetProperty("checks").GetProperty("matching-index").GetProperty("status").GetString());
        Assert.Equal("disallow", await TrainAiAsync(reader, "https://rebuilt.example/art/piece.png"));
        Assert.Equal("disallow", await TrainAiAsync(reader, "https://whole.example/"));
        Assert.Equal("unknown", await TrainAiAsync(reader, "https://sub.whole.example/"));
    }

    [Fact]
    public async Task Without_anonymous_lookups_a_key_is_required_and_a_wrong_one_is_refused()
    {
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Lookup:AllowAnonymous"] = "false" });
        using var anonymous = app.CreateClient();
        using var admin = app.CreateAdminClient();
        var key = (await (await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "builder" })).JsonAsync()).GetProperty("key").GetString();
        using var withKey = app.CreateClient();
        withKey.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {key}");
        using var wrongKey = app.CreateClient();
        wrongKey.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "API crk_nope");
        var body = new { items = new[] { new { url = "https://a.example/" } } };

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/v1/lookup", body)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrongKey.PostAsJsonAsync("/v1/lookup", body)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await withKey.PostAsJsonAsync("/v1/lookup", body)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await withKey.PostAsync("/api/v2/query/urls", new StringContent("https://a.example/"))).StatusCode);
    }

    [Fact]
    public async Task Going_over_the_rate_limit_gets_429_with_retry_after_as_problem_json()
    {
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Lookup:RequestsPerSecondPerAddress"] = "2" });
        using var client = app.CreateClient();
        var body = new { items = new[] { new { url = "https://a.example/" } } };

        HttpResponseMessage? limited = null;
        for (var i = 0; i < 20 && limited is null; i++)
        {
            var response = await client.PostAsJsonAsync("/v1/lookup", body);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
        }

        Assert.NotNull(limited);
        await AssertProblemAsync(limited, HttpStatusCode.TooManyRequests, "too-many-requests");
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Lookup;

/// <summary>
/// Many parties claiming one host cannot make its lookups large: an item lists at most 16 matches,
/// strongest trust and newest first, and counts the rest in "more" (every lookup surface alike).
/// </summary>
public sealed class MatchCapTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private const int Parties = 40;
    private readonly HttpClient _client = registry.Client;

    [Fact]
    public async Task Forty_parties_on_one_host_give_sixteen_matches_and_more_on_batch_stream_and_policy()
    {
        var ids = new List<string>();
        for (var i = 0; i < Parties; i++)
        {
            using var signer = new TestSigner();
            var jws = signer.Sign(TestSigner.Claim([new JsonObject { ["kind"] = "host", ["value"] = "crowded.example" }],
                new JsonObject { ["train-ai"] = "n" }, TestSigner.Now - Parties + i));
            Assert.Equal(HttpStatusCode.Created, (await _client.PostAsync("/v1/claims", Jose(jws))).StatusCode);
            ids.Add(TestSigner.IdOf(jws));
        }

        var newestFirst = Enumerable.Reverse(ids).Take(16).ToArray();

        var batch = (await (await _client.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { url = "https://crowded.example/a.jpg" } } })).JsonAsync())
            .GetProperty("results")[0];
        Assert.Equal("disallow", batch.GetProperty("decision").GetProperty("train-ai").GetString());
        Assert.Equal(newestFirst, batch.GetProperty("matches").EnumerateArray().Select(m => m.GetProperty("claim").GetString()));
        Assert.Equal(Parties - 16, batch.GetProperty("more").GetInt32());

        using var stream = new StringContent("{\"url\":\"https://crowded.example/b.jpg\"}\n", System.Text.Encoding.UTF8, "application/x-ndjson");
        var line = (await (await _client.PostAsync("/v1/lookup/stream", stream)).Content.ReadAsStringAsync()).Split('\n')[0];
        var streamed = JsonNode.Parse(line)!;
        Assert.Equal(16, streamed["matches"]!.AsArray().Count);
        Assert.Equal(Parties - 16, streamed["more"]!.GetValue<int>());

        var policy = await (await _client.GetAsync("/v1/policy?url=https://crowded.example/c.jpg")).JsonAsync();
        Assert.Equal(16, policy.GetProperty("matches").GetArrayLength());
        Assert.Equal(Parties - 16, policy.GetProperty("more").GetInt32());
    }

    [Fact]
    public async Task An_item_with_few_matches_has_no_more_member()
    {
        using var signer = new TestSigner();
        Assert.Equal(HttpStatusCode.Created, (await _client.PostAsync("/v1/claims", Jose(signer.OptOut("https://quiet.example/a.jpg")))).StatusCode);

        var result = (await (await _client.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { url = "https://quiet.example/a.jpg" } } })).JsonAsync())
            .GetProperty("results")[0];

        Assert.Equal(1, result.GetProperty("matches").GetArrayLength());
        Assert.False(result.TryGetProperty("more", out _));
    }
}

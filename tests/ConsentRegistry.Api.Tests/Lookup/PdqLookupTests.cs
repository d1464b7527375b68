using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Core.Pdq;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Lookup;

/// <summary>Lookups by PDQ hash (DESIGN.md 5.2): exact and near hashes, radius, errors, quality, the stream.</summary>
public sealed class PdqLookupTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private static readonly Random Random = new(20260401);
    private readonly HttpClient _client = registry.Client;

    [Fact]
    public async Task A_claimed_hash_is_found_exactly_and_within_the_default_radius_of_31_with_its_distance()
    {
        var claimed = RandomHash();
        var id = await ClaimAsync(new JsonObject { ["train-ai"] = "n" }, [claimed]);

        var results = await LookupAsync(
            new JsonObject { ["pdq"] = claimed.ToHex() },
            new JsonObject { ["pdq"] = Near(claimed, 31).ToHex().ToUpperInvariant() },
            new JsonObject { ["pdq"] = Near(claimed, 32).ToHex() },
            new JsonObject { ["pdq"] = Near(claimed, 32).ToHex(), ["max_distance"] = 40 },
            new JsonObject { ["pdq"] = Near(claimed, 5).ToHex(), ["max_distance"] = 4 });

        Assert.Equal([0, 31], new[] { results[0], results[1] }.Select(r => PdqMatch(r, id).GetProperty("distance").GetInt32()));
        Assert.Equal("disallow", results[1].GetProperty("decision").GetProperty("train-ai").GetString());
        Assert.Equal("signed", PdqMatch(results[1], id).GetProperty("trust").GetString());
        Assert.Equal(0, results[2].GetProperty("matches").GetArrayLength());
        Assert.Equal("unknown", results[2].GetProperty("decision").GetProperty("train-ai").GetString());
        Assert.Equal(32, PdqMatch(results[3], id).GetProperty("distance").GetInt32());
        Assert.Equal(0, results[4].GetProperty("matches").GetArrayLength());
    }

    [Fact]
    public async Task A_request_brings_at_most_256_items_wider_than_the_default_radius_and_the_items_past_that_are_told_to_come_again()
    {
        var claimed = RandomHash();
        var id = await ClaimAsync(new JsonObject { ["train-ai"] = "n" }, [claimed]);
        var wide = new JsonObject { ["pdq"] = Near(claimed, 40).ToHex(), ["max_distance"] = 63 };

        var results = await LookupAsync(Enumerable.Range(0, 257).Select(_ => (JsonNode)wide.DeepClone())
            .Append(new JsonObject { ["pdq"] = Near(claimed, 20).ToHex(), ["max_distance"] = 31 })
            .Append(new JsonObject { ["pdq"] = Near(claimed, 20).ToHex() })
            .ToArray());

        Assert.All(results[..256], r => Assert.Equal(40, PdqMatch(r, id).GetProperty("distance").GetInt32()));
        Assert.Equal(("too-many-wide-pdq", "max_distance"),
            (results[256].GetProperty("error").GetProperty("code").GetString(), results[256].GetProperty("error").GetProperty("field").GetString()));
        Assert.All(results[257..], r => Assert.Equal(20, PdqMatch(r, id).GetProperty("distance").GetInt32())); // the default radius is not counted
    }

    [Fact]
    public async Task An_item_with_a_url_and_a_pdq_hash_is_decided_by_the_claims_on_both()
    {
        var hash = RandomHash();
        var byHash = await ClaimAsync(new JsonObject { ["train-ai"] = "n" }, [hash]);
        var byUrl = await ClaimAsync(new JsonObject { ["search"] = "n" }, [], "https://pdq-and-url.example/cat.jpg");

        var result = (await LookupAsync(new JsonObject { ["url"] = "https://pdq-and-url.example/cat.jpg", ["pdq"] = Near(hash, 12).ToHex() }))[0];

        var decision = result.GetProperty("decision");
        Assert.Equal("disallow", decision.GetProperty("train-ai").GetString());
        Assert.Equal("disallow", decision.GetProperty("search").GetString());
        Assert.Equal(12, PdqMatch(result, byHash).GetProperty("distance").GetInt32());
        var urlMatch = result.GetProperty("matches").EnumerateArray().Single(m => m.GetProperty("claim").GetString() == byUrl);
        Assert.Equal("url", urlMatch.GetProperty("by").GetString());
        Assert.False(urlMatch.TryGetProperty("distance", out _));
    }

    [Fact]
    public async Task A_later_claim_of_the_same_party_on_the_same_hash_wins_but_not_over_a_different_hash()
    {
        using var signer = new TestSigner();
        var hash = RandomHash();
        var other = Near(hash, 6);
        var now = TestSigner.Now;
        await ClaimAsync(new JsonObject { ["ai-use"] = "n" }, [hash], signer: signer, iat: now - 100);
        var later = await ClaimAsync(new JsonObject { ["ai-use"] = "y" }, [hash], signer: signer, iat: now);
        var onOther = await ClaimAsync(new JsonObject { ["tdm"] = "n" }, [other], signer: signer, iat: now - 200);

        var result = (await LookupAsync(new JsonObject { ["pdq"] = Near(hash, 3).ToHex() }))[0];

        // The earlier "n" on the same hash is superseded; a grant at trust 'signed' does not count.
        Assert.Equal("unknown", result.GetProperty("decision").GetProperty("ai-use").GetString());
        Assert.Equal("disallow", result.GetProperty("decision").GetProperty("tdm").GetString());
        Assert.Equal(new[] { later, onOther }.Order(), result.GetProperty("matches").EnumerateArray().Select(m => m.GetProperty("claim").GetString()!).Order());
    }

    [Fact]
    public async Task A_claim_with_several_hashes_near_the_query_is_one_match_at_the_smallest_distance()
    {
        var hash = RandomHash();
        var id = await ClaimAsync(new JsonObject { ["train-ai"] = "n" }, [hash, Near(hash, 9), Near(hash, 20)]);

        var result = (await LookupAsync(new JsonObject { ["pdq"] = Near(hash, 2).ToHex() }))[0];

        Assert.Equal(1, result.GetProperty("matches").GetArrayLength());
        Assert.Equal(id, result.GetProperty("matches")[0].GetProperty("claim").GetString());
        Assert.Equal(2, result.GetProperty("matches")[0].GetProperty("distance").GetInt32());
    }

    [Fact]
    public async Task Bad_pdq_values_get_their_own_errors_and_the_rest_of_the_batch_is_answered()
    {
        var hash = RandomHash();
        await ClaimAsync(new JsonObject { ["train-ai"] = "n" }, [hash]);

        var results = await LookupAsync(
            new JsonObject { ["pdq"] = "xyz" },
            new JsonObject { ["pdq"] = hash.ToHex()[1..] },
            new JsonObject { ["pdq"] = hash.ToHex()[..63] + "g" },
            new JsonObject { ["pdq"] = hash.ToHex(), ["max_distance"] = 64 },
            new JsonObject { ["pdq"] = hash.ToHex(), ["max_distance"] = -1 },
            new JsonObject { ["url"] = "https://pdq-errors.example/", ["max_distance"] = 10 },
            new JsonObject { ["pdq"] = hash.ToHex(), ["quality"] = 101 },
            new JsonObject { ["pdq"] = hash.ToHex(), ["max_distance"] = 0 });

        Assert.Equal(
            [("invalid-pdq", "pdq"), ("invalid-pdq", "pdq"), ("invalid-pdq", "pdq"), ("invalid-max-distance", "max_distance"),
             ("invalid-max-distance", "max_distance"), ("invalid-max-distance", "max_distance"), ("invalid-quality", "quality")],
            results.Take(7).Select(r => (r.GetProperty("error").GetProperty("code").GetString(), r.GetProperty("error").GetProperty("field").GetString())));
        Assert.Equal("disallow", results[7].GetProperty("decision").GetProperty("train-ai").GetString());
    }

    [Fact]
    public async Task A_max_distance_that_is_not_an_integer_is_that_items_own_error()
    {
        var body = new JsonObject { ["items"] = new JsonArray(new JsonObject { ["pdq"] = RandomHash().ToHex(), ["max_distance"] = 31.5 }) };

        var response = await _client.PostAsync("/v1/lookup", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var error = (await response.JsonAsync()).GetProperty("results")[0].GetProperty("error");
        Assert.Equal("invalid-max-distance", error.GetProperty("code").GetString());
        Assert.Equal("max_distance", error.GetProperty("field").GetString());
    }

    [Fact]
    public async Task Hashes_of_quality_under_50_are_flagged_low_quality()
    {
        var hash = RandomHash();
        await ClaimAsync(new JsonObject { ["train-ai"] = "n" }, [hash]);

        var results = await LookupAsync(
            new JsonObject { ["pdq"] = hash.ToHex(), ["quality"] = 49 },
            new JsonObject { ["pdq"] = hash.ToHex(), ["quality"] = 50 },
            new JsonObject { ["pdq"] = hash.ToHex() },
            new JsonObject { ["pdq"] = RandomHash().ToHex(), ["quality"] = 0 });

        Assert.True(results[0].GetProperty("low_quality").GetBoolean());
        Assert.Equal("disallow", results[0].GetProperty("decision").GetProperty("train-ai").GetString());
        Assert.False(results[1].TryGetProperty("low_quality", out _));
        Assert.False(results[2].TryGetProperty("low_quality", out _));
        Assert.True(results[3].GetProperty("low_quality").GetBoolean());
    }

    [Fact]
    public async Task The_stream_answers_pdq_lines_in_order_with_distances_errors_and_quality()
    {
        var hash = RandomHash();
        var id = await ClaimAsync(new JsonObject { ["train-ai"] = "n" }, [hash]);
        var lines = new[]
        {
            new JsonObject { ["pdq"] = hash.ToHex() },
            new JsonObject { ["pdq"] = Near(hash, 20).ToHex(), ["quality"] = 30 },
            new JsonObject { ["pdq"] = "not-a-hash" },
            new JsonObject { ["pdq"] = Near(hash, 45).ToHex(), ["max_distance"] = 50 },
            new JsonObject { ["pdq"] = Near(hash, 45).ToHex() },
        };

        var response = await _client.PostAsync("/v1/lookup/stream",
            new StringContent(string.Join('\n', lines.Select(l => l.ToJsonString())), Encoding.UTF8, "application/x-ndjson"));

        var results = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([0, 1, 2, 3, 4], results.Select(r => r.GetProperty("i").GetInt32()));
        Assert.Equal(0, PdqMatch(results[0], id).GetProperty("distance").GetInt32());
        Assert.Equal(20, PdqMatch(results[1], id).GetProperty("distance").GetInt32());
        Assert.True(results[1].GetProperty("low_quality").GetBoolean());
        Assert.Equal("invalid-pdq", results[2].GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(45, PdqMatch(results[3], id).GetProperty("distance").GetInt32());
        Assert.Equal(0, results[4].GetProperty("matches").GetArrayLength());
    }

    [Fact]
    public async Task A_revoked_pdq_claim_no_longer_matches()
    {
        using var signer = new TestSigner();
        var hash = RandomHash();
        var id = await ClaimAsync(new JsonObject { ["train-ai"] = "n" }, [hash], signer: signer);
        await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(signer.Revocation(id)));

        var result = (await LookupAsync(new JsonObject { ["pdq"] = hash.ToHex() }))[0];

        Assert.Equal(0, result.GetProperty("matches").GetArrayLength());
    }

    [Fact]
    public async Task A_restarted_instance_finds_pdq_claims_from_the_store()
    {
        var hashes = Enumerable.Range(0, 3000).Select(_ => RandomHash()).ToArray();
        await using var first = await RegistryApp.StartAsync();
        using (var writer = first.CreateClient())
        {
            using var signer = new TestSigner();
            foreach (var chunk in hashes.Chunk(1000))
            {
                var jws = signer.Sign(TestSigner.Claim(chunk.Select(h => TestSigner.Subject("pdq", h.ToHex())), new JsonObject { ["train-ai"] = "n" }));
                Assert.Equal(HttpStatusCode.Created, (await writer.PostAsync("/v1/claims", Jose(jws))).StatusCode);
            }
        }

        await using var restarted = new RegistryApp(first.Database);
        restarted.StartServer();
        await restarted.WaitUntilReadyAsync();
        using var reader = restarted.CreateClient();

        var response = await reader.PostAsJsonAsync("/v1/lookup", new { items = hashes.Where((_, i) => i % 100 == 0).Select(h => new { pdq = Near(h, 30).ToHex() }).ToArray() });

        var results = (await response.JsonAsync()).GetProperty("results");
        Assert.All(results.EnumerateArray(), r => Assert.Equal(30, r.GetProperty("matches")[0].GetProperty("distance").GetInt32()));
    }

    private async Task<string> ClaimAsync(JsonObject usage, PdqHash[] hashes, string? url = null, TestSigner? signer = null, long? iat = null)
    {
        using var owned = signer is null ? new TestSigner() : null;
        var subjects = hashes.Select(h => TestSigner.Subject("pdq", h.ToHex())).ToList();
        if (url is not null)
        {
            subjects.Add(TestSigner.Url(url));
        }

        var response = await _client.PostAsync("/v1/claims", Jose((signer ?? owned)!.Sign(TestSigner.Claim(subjects, usage, iat))));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.JsonAsync()).GetProperty("id").GetString()!;
    }

    private Task<JsonElement[]> LookupAsync(params JsonNode[] items) => _client.LookupItemsAsync(items);

    private static JsonElement PdqMatch(JsonElement result, string claim)
    {
        var match = result.GetProperty("matches").EnumerateArray().Single(m => m.GetProperty("claim").GetString() == claim);
        Assert.Equal("pdq", match.GetProperty("by").GetString());
        return match;
    }

    private static PdqHash RandomHash()
    {
        Span<ulong> parts = stackalloc ulong[4];
        lock (Random)
        {
            Random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(parts));
        }

        return new PdqHash(parts[0], parts[1], parts[2], parts[3]);
    }

    /// <summary>The hash with <paramref name="distance"/> bits flipped, chosen at random.</summary>
    internal static PdqHash Near(PdqHash hash, int distance)
    {
        Span<ulong> parts = [hash.GetPart(0), hash.GetPart(1), hash.GetPart(2), hash.GetPart(3)];
        lock (Random)
        {
            foreach (var bit in Enumerable.Range(0, PdqHash.BitCount).OrderBy(_ => Random.Next()).Take(distance).ToArray())
            {
                parts[bit >> 6] ^= 1UL << (bit & 63);
            }
        }

        return new PdqHash(parts[0], parts[1], parts[2], parts[3]);
    }
}

using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using SkiaSharp;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Lookup;

/// <summary>
/// Embeddings end to end (DESIGN.md 5.2, 5.7): vectors from POST /v1/images claimed as subjects,
/// looked up from copies of the image, with the similarity in the match; bad vectors refused per field.
/// The registry here searches through its approximate vector index (<see cref="ImagesFixture"/>).
/// </summary>
public sealed class EmbeddingLookupTests(ImagesFixture registry) : IClassFixture<ImagesFixture>
{
    private const string Model = "resnet18-gem-v2";
    private readonly HttpClient _client = registry.Client;

    [Fact]
    public async Task A_claimed_images_embedding_finds_its_copies_with_their_similarity_and_not_another_picture()
    {
        var original = TestImages.ReadPdqData("reg-test-input/dih/bridge-1-original.jpg");
        using var decoded = SKBitmap.Decode(original);
        using var small = decoded.Resize(new SKImageInfo(400, 251), new SKSamplingOptions(SKFilterMode.Linear));
        using var cropped = TestImages.CentreCrop(decoded, 0.9);
        var lossless = TestImages.Encode(decoded, SKEncodedImageFormat.Png);
        var shrunk = TestImages.Encode(small, SKEncodedImageFormat.Jpeg, quality: 40);
        var other = TestImages.ReadPdqData("reg-test-input/labelme-subset/q0122.jpg");
        var id = await ClaimAsync(await EmbeddingAsync(original));

        var results = await LookupAsync(
            Item(await EmbeddingAsync(lossless)),
            Item(await EmbeddingAsync(shrunk)),
            Item(await EmbeddingAsync(TestImages.Encode(cropped, SKEncodedImageFormat.Png))),
            Item(await EmbeddingAsync(TestImages.Encode(cropped, SKEncodedImageFormat.Png)), minSimilarity: 0.8),
            Item(await EmbeddingAsync(other), minSimilarity: 0.8));

        var match = EmbeddingMatch(results[0], id);
        Assert.InRange(match.GetProperty("similarity").GetDouble(), 0.98, 1.0); // the default threshold, 0.98
        Assert.Equal("signed", match.GetProperty("trust").GetString());
        Assert.False(match.TryGetProperty("distance", out _));
        Assert.Equal("disallow", results[0].GetProperty("decision").GetProperty("train-ai").GetString());
        // A 1600×1004 picture shrunk to 400×251: the same input once its shape is kept above 512 pixels.
        Assert.InRange(EmbeddingMatch(results[1], id).GetProperty("similarity").GetDouble(), 0.98, 1.0);
        Assert.Equal(0, results[2].GetProperty("matches").GetArrayLength()); // a crop of 90 % is below 0.98 ...
        Assert.InRange(EmbeddingMatch(results[3], id).GetProperty("similarity").GetDouble(), 0.8, 0.98); // ... found at 0.8
        Assert.DoesNotContain(results[4].GetProperty("matches").EnumerateArray(), m => m.GetProperty("claim").GetString() == id);
    }

    [Fact]
    public async Task The_stream_takes_embeddings_and_an_item_may_bring_a_url_beside_them()
    {
        var image = TestImages.ReadPdqData("reg-test-input/labelme-subset/q0746.jpg");
        var embedding = await EmbeddingAsync(image);
        var id = await ClaimAsync(embedding);
        var lines = new[]
        {
            Item(embedding),
            Item(embedding, url: "https://nobody-claimed-this.example/q0746.jpg"),
            new JsonObject { ["embeddings"] = new JsonArray(new JsonObject { ["model"] = Model, ["value"] = "not base64!" }) },
        };

        var response = await _client.PostAsync("/v1/lookup/stream",
            new StringContent(string.Join('\n', lines.Select(l => l.ToJsonString())), Encoding.UTF8, "application/x-ndjson"));

        var results = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([0, 1, 2], results.Select(r => r.GetProperty("i").GetInt32()));
        Assert.True(EmbeddingMatch(results[0], id).GetProperty("similarity").GetDouble() > 0.999);
        EmbeddingMatch(results[1], id);
        Assert.Equal("embeddings[0].value", results[2].GetProperty("error").GetProperty("field").GetString());
    }

    [Fact]
    public async Task Wrong_vectors_in_a_lookup_are_that_items_error_and_the_rest_is_answered()
    {
        var good = await EmbeddingAsync(TestImages.ReadPdqData("reg-test-input/labelme-subset/q1050.jpg"));
        var items = new JsonNode[]
        {
            new JsonObject { ["embeddings"] = new JsonArray(new JsonObject { ["model"] = "another-model", ["value"] = good["value"]!.GetValue<string>() }) },
            new JsonObject { ["embeddings"] = new JsonArray(new JsonObject { ["model"] = Model, ["value"] = "AAAA" }) },
            new JsonObject { ["embeddings"] = "not an array" },
            new JsonObject { ["embeddings"] = new JsonArray(Enumerable.Range(0, 17).Select(_ => (JsonNode)good.DeepClone()).ToArray()) },
            Item(good, minSimilarity: 1.5),
            new JsonObject { ["url"] = "https://a.example/", ["min_similarity"] = 0.9 },
            new JsonObject { ["embeddings"] = new JsonArray() },
            Item(good),
        };

        var results = await LookupAsync(items);

        var errors = results.Select(r => r.TryGetProperty("error", out var e) ? $"{e.GetProperty("code").GetString()} {e.GetProperty("field").GetString()}" : "ok").ToList();
        Assert.Equal(
            [
                "invalid-embedding embeddings[0].model", "invalid-embedding embeddings[0].value", "invalid-embedding embeddings",
                "invalid-embedding embeddings", "invalid-min-similarity min_similarity", "invalid-min-similarity min_similarity",
                "invalid-embedding embeddings", "ok",
            ],
            errors);
    }

    [Fact]
    public async Task A_request_brings_at_most_256_vectors_and_the_items_past_that_are_told_to_come_again()
    {
        var embedding = await EmbeddingAsync(TestImages.ReadPdqData("reg-test-input/labelme-subset/q0004.jpg"));
        var sixteen = new JsonObject { ["embeddings"] = new JsonArray(Enumerable.Range(0, 16).Select(_ => (JsonNode)embedding.DeepClone()).ToArray()) };

        var results = await LookupAsync(Enumerable.Range(0, 17).Select(_ => (JsonNode)sixteen).Append(new JsonObject { ["url"] = "https://a.example/" }).ToArray());

        Assert.All(results[..16], r => Assert.True(r.TryGetProperty("decision", out _)));
        Assert.Equal("too-many-embeddings", results[16].GetProperty("error").GetProperty("code").GetString());
        Assert.True(results[17].TryGetProperty("decision", out _)); // items without vectors are still answered
    }

    [Fact]
    public async Task A_claims_vector_of_another_model_or_length_is_refused_naming_the_field()
    {
        using var signer = new TestSigner();
        var good = await EmbeddingAsync(TestImages.ReadPdqData("reg-test-input/labelme-subset/q2821.jpg"));
        var payload = TestSigner.Claim(
            [
                new JsonObject { ["kind"] = "embedding", ["model"] = "another-model", ["value"] = good["value"]!.GetValue<string>() },
                new JsonObject { ["kind"] = "embedding", ["model"] = Model, ["value"] = "AAAA" },
                new JsonObject { ["kind"] = "embedding", ["value"] = good["value"]!.GetValue<string>() },
                new JsonObject { ["kind"] = "url", ["model"] = Model, ["value"] = "https://a.example/x.jpg" },
            ],
            new JsonObject { ["train-ai"] = "n" });

        var response = await _client.PostAsync("/v1/claims", Jose(signer.Sign(payload)));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-payload");
        Assert.Equal(
            ["subjects[0].model", "subjects[1].value", "subjects[2].model", "subjects[3].model"],
            problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).Order().ToArray());
    }

    [Fact]
    public async Task A_claimed_embedding_reads_back_as_sent_and_still_matches_through_the_vector_index_after_a_restart()
    {
        var settings = new Dictionary<string, string?> { ["Registry:Matching:VectorIndex:MinVectors"] = "1" };
        var embedding = await EmbeddingAsync(TestImages.ReadPdqData("reg-test-input/labelme-subset/q0291.jpg"));
        using var signer = new TestSigner();
        var jws = signer.Sign(TestSigner.Claim([Subject(embedding)], new JsonObject { ["train-ai"] = "n" }));
        var database = await TestDatabase.CreateAsync();
        await using (database)
        {
            await using (var app = new RegistryApp(database, settings))
            {
                app.StartServer();
                using var client = app.CreateClient();
                var created = await (await client.PostAsync("/v1/claims", Jose(jws))).JsonAsync();
                var subject = created.GetProperty("subjects")[0];
                Assert.Equal(("embedding", Model, embedding["value"]!.GetValue<string>()),
                    (subject.GetProperty("kind").GetString(), subject.GetProperty("model").GetString(), subject.GetProperty("value").GetString()));
            }

            await using var restarted = new RegistryApp(database, settings);
            restarted.StartServer();
            await restarted.WaitUntilReadyAsync();
            using var reader = restarted.CreateClient();
            var body = new JsonObject { ["items"] = new JsonArray(Item(embedding)) };
            var results = (await (await reader.PostAsync("/v1/lookup", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"))).JsonAsync()).GetProperty("results");
            EmbeddingMatch(results[0], TestSigner.IdOf(jws));
        }
    }

    private async Task<JsonObject> EmbeddingAsync(byte[] image)
    {
        var body = await _client.HashImageAsync(image);
        return JsonNode.Parse(body.GetProperty("embeddings")[0].GetRawText())!.AsObject();
    }

    private static JsonObject Subject(JsonObject embedding) =>
        new() { ["kind"] = "embedding", ["model"] = embedding["model"]!.GetValue<string>(), ["value"] = embedding["value"]!.GetValue<string>() };

    private static JsonObject Item(JsonObject embedding, double? minSimilarity = null, string? url = null)
    {
        var item = new JsonObject { ["embeddings"] = new JsonArray(embedding.DeepClone()) };
        if (minSimilarity is { } min)
        {
            item["min_similarity"] = min;
        }

        if (url is not null)
        {
            item["url"] = url;
        }

        return item;
    }

    private async Task<string> ClaimAsync(JsonObject embedding)
    {
        using var signer = new TestSigner();
        var response = await _client.PostAsync("/v1/claims", Jose(signer.Sign(TestSigner.Claim([Subject(embedding)], new JsonObject { ["train-ai"] = "n" }))));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.JsonAsync()).GetProperty("id").GetString()!;
    }

    private Task<JsonElement[]> LookupAsync(params JsonNode[] items) => _client.LookupItemsAsync(items);

    private static JsonElement EmbeddingMatch(JsonElement result, string claim)
    {
        var match = result.GetProperty("matches").EnumerateArray().Single(m => m.GetProperty("claim").GetString() == claim);
        Assert.Equal("embedding", match.GetProperty("by").GetString());
        return match;
    }
}

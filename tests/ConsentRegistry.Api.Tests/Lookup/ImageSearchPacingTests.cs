using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Lookup;

/// <summary>
/// The PDQ and embedding searches of lookups, paced per client address or API key: a request
/// short of them waits, a batch is refused while too many already wait, a stream slows down.
/// </summary>
public sealed class ImageSearchPacingTests
{
    private static Task<RegistryApp> StartAsync(int perSecond) => RegistryApp.StartAsync(new Dictionary<string, string?>
    {
        ["Registry:Lookup:ImageSearchesPerSecondPerAddress"] = perSecond.ToString(),
        ["Registry:Lookup:RequestsPerSecondPerAddress"] = "1000",
    });

    private static string Pdq(int seed)
    {
        var bytes = new byte[32];
        new Random(seed).NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    private static JsonObject PdqItem(int seed) => new() { ["pdq"] = Pdq(seed) };

    [Fact]
    public void Each_pdq_hash_and_embedding_vector_is_a_search_and_one_wider_than_the_default_counts_sixteen()
    {
        var pacing = new ImageSearchPacing(
            Microsoft.Extensions.Options.Options.Create(new LookupOptions()),
            Microsoft.Extensions.Options.Options.Create(new WriteBudgetOptions()),
            Microsoft.Extensions.Options.Options.Create(new MatchingOptions()));
        LookupEmbedding[] Vectors(int count) => Enumerable.Range(0, count).Select(_ => new LookupEmbedding("m", "v")).ToArray();

        Assert.Equal(0, pacing.CostOf(new ReadItem(new LookupItem("https://a.example/x.jpg", new string('a', 64), null, null), null)));
        Assert.Equal(1, pacing.CostOf(new ReadItem(new LookupItem(null, null, Pdq(1), null), null)));
        Assert.Equal(1, pacing.CostOf(new ReadItem(new LookupItem(null, null, Pdq(1), 31), null)));
        Assert.Equal(ImageSearchPacing.WideSearchCost, pacing.CostOf(new ReadItem(new LookupItem(null, null, Pdq(1), 32), null)));
        Assert.Equal(4, pacing.CostOf(new ReadItem(new LookupItem(null, null, Pdq(1), null, Embeddings: Vectors(3)), null)));
        Assert.Equal(16, pacing.CostOf(new ReadItem(new LookupItem(null, null, null, null, Embeddings: Vectors(500)), null)));
        Assert.Equal(2, pacing.CostOf(new ReadItem(new LookupItem(null, null, null, null, Embeddings: Vectors(2), MinSimilarity: 0.99), null)));
        Assert.Equal(2 * ImageSearchPacing.WideSearchCost, pacing.CostOf(new ReadItem(new LookupItem(null, null, null, null, Embeddings: Vectors(2), MinSimilarity: 0.5), null)));
        Assert.Equal(0, pacing.CostOf(new ReadItem(null, new LookupError("invalid-item", null, "bad line"))));
    }

    [Fact]
    public async Task A_batch_of_more_pdq_hashes_than_a_second_of_budget_waits_for_them_and_is_answered_whole()
    {
        await using var app = await StartAsync(perSecond: 20);
        using var client = app.CreateClient();

        // 20 from the full bucket, 20 at the next refill, 20 at the one after: two refills, a second apart.
        var clock = Stopwatch.StartNew();
        var results = await client.LookupItemsAsync(Enumerable.Range(0, 60).Select(i => (JsonNode)PdqItem(i)).ToArray());

        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"60 searches at 20 a second took {clock.Elapsed}");
        Assert.Equal(60, results.Length);
        Assert.All(results, r => Assert.Equal("unknown", r.GetProperty("decision").GetProperty("train-ai").GetString()));
    }

    [Fact]
    public async Task Url_and_sha256_items_take_nothing_from_the_search_budget()
    {
        await using var app = await StartAsync(perSecond: 1);
        using var client = app.CreateClient();
        client.Timeout = TimeSpan.FromSeconds(20);

        // At one search a second, 500 items charged as searches would take minutes.
        var results = await client.LookupItemsAsync(Enumerable.Range(0, 500)
            .Select(i => (JsonNode)new JsonObject { ["url"] = $"https://pace.example/{i}.jpg", ["sha256"] = Pdq(i) })
            .ToArray());

        Assert.Equal(500, results.Length);
    }

    [Fact]
    public async Task Lookups_are_refused_with_retry_after_while_their_client_has_thirty_seconds_of_searches_waiting()
    {
        await using var app = await StartAsync(perSecond: 1);
        using var client = app.CreateClient();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // One search a second: one batch takes the bucket's token, the next 30 wait in its queue
        // (30 seconds' worth), and those after them are refused at once.
        var batches = Enumerable.Range(0, 40)
            .Select(i => client.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { pdq = Pdq(i) } } }, stop.Token))
            .ToList();
        HttpResponseMessage? refused = null;
        var pending = batches.ToList();
        while (refused is null && pending.Count > 0)
        {
            var done = await Task.WhenAny(pending);
            pending.Remove(done);
            if ((await done).StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = done.Result;
            }
        }

        // While the others still wait, a stream is refused at its start too, even one that brings no
        // image search (it could bring some).
        using var stream = await client.PostAsync("/v1/lookup/stream", new StringContent("{\"url\":\"https://pace.example/a.jpg\"}", Encoding.UTF8, "application/x-ndjson"));
        stop.Cancel();

        Assert.NotNull(refused);
        var problem = await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "too-many-requests");
        Assert.Contains("PDQ and embedding searches", problem.GetProperty("detail").GetString());
        Assert.True(int.Parse(refused.Headers.GetValues("Retry-After").Single()) >= 1);
        await AssertProblemAsync(stream, HttpStatusCode.TooManyRequests, "too-many-requests");
        await Task.WhenAll(batches.Select(b => b.ContinueWith(_ => { }, TaskScheduler.Default)));
    }

    [Fact]
    public async Task A_stream_short_of_searches_slows_down_and_answers_every_line()
    {
        await using var app = await StartAsync(perSecond: 10);
        using var client = app.CreateClient();
        var body = string.Join("\n", Enumerable.Range(0, 35).Select(i => PdqItem(i).ToJsonString()));

        var clock = Stopwatch.StartNew();
        using var response = await client.PostAsync("/v1/lookup/stream", new StringContent(body, Encoding.UTF8, "application/x-ndjson"));
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        // 10 from the full bucket, then 10 a refill: three refills for the other 25, a second apart.
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.9), $"35 searches at 10 a second took {clock.Elapsed}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Enumerable.Range(0, 35), lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("i").GetInt32()));
        Assert.DoesNotContain(lines, l => l.Contains("\"error\""));
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
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
        var pacing = Pacing();
        int Cost(LookupItem? item)
        {
            var request = default(RequestSearches);
            return pacing.CostOf(new ReadItem(item, item is null ? new LookupError("invalid-item", null, "bad line") : null), ref request);
        }

        Assert.Equal(0, Cost(new LookupItem("https://a.example/x.jpg", new string('a', 64), null, null)));
        Assert.Equal(1, Cost(new LookupItem(null, null, Pdq(1), null)));
        Assert.Equal(1, Cost(new LookupItem(null, null, Pdq(1), 31)));
        Assert.Equal(ImageSearchPacing.WideSearchCost, Cost(new LookupItem(null, null, Pdq(1), 32)));
        Assert.Equal(4, Cost(new LookupItem(null, null, Pdq(1), null, Embeddings: Vectors(3))));
        Assert.Equal(2, Cost(new LookupItem(null, null, null, null, Embeddings: Vectors(2), MinSimilarity: 0.99)));
        Assert.Equal(2 * ImageSearchPacing.WideSearchCost, Cost(new LookupItem(null, null, null, null, Embeddings: Vectors(2), MinSimilarity: 0.5)));
        Assert.Equal(0, Cost(new LookupItem(null, null, null, null, Embeddings: Vectors(17)))); // refused by the engine: more than an image has
        Assert.Equal(0, Cost(null));
    }

    [Fact]
    public void Items_past_the_engines_per_request_caps_cost_nothing_as_the_engine_refuses_them()
    {
        var pacing = Pacing();
        var request = default(RequestSearches);
        ReadItem[] items =
        [
            .. Enumerable.Range(0, 300).Select(i => new ReadItem(new LookupItem(null, null, Pdq(i), 63), null)),
            .. Enumerable.Range(0, 20).Select(_ => new ReadItem(new LookupItem(null, null, null, null, Embeddings: Vectors(16), MinSimilarity: 0.5), null)),
        ];

        // 256 wide PDQ searches and 16 items of 16 vectors (256 in all) are made; the rest are items' errors.
        Assert.Equal((256 * ImageSearchPacing.WideSearchCost) + (256 * ImageSearchPacing.WideSearchCost), pacing.CostOf(items, ref request));
    }

    private static ImageSearchPacing Pacing() => new(
        Microsoft.Extensions.Options.Options.Create(new LookupOptions()),
        Microsoft.Extensions.Options.Options.Create(new WriteBudgetOptions()),
        Microsoft.Extensions.Options.Options.Create(new MatchingOptions()));

    private static LookupEmbedding[] Vectors(int count) => Enumerable.Range(0, count).Select(_ => new LookupEmbedding("m", "v")).ToArray();

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
    public async Task A_lookup_is_refused_with_retry_after_while_its_clients_waiting_searches_and_its_own_would_take_over_thirty_seconds()
    {
        await using var app = await StartAsync(perSecond: 1);
        using var client = app.CreateClient();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // One search a second: the first batch takes one and waits for its other 19.
        var waiting = client.PostAsJsonAsync("/v1/lookup", new { items = Enumerable.Range(0, 20).Select(i => new { pdq = Pdq(i) }).ToArray() }, stop.Token);
        var pacing = app.Services.GetRequiredService<ImageSearchPacing>();
        await Eventually.HoldsAsync(() => pacing.WaitingSearches("ip:127.0.0.1") >= 17, "the first batch admitted and waiting");

        // 28 more are over the 30 s while 3 or more still wait: the first batch drains one a second,
        // so only a stall of a quarter of a minute would let them in. The searches waiting when the
        // lookup was answered were between those before and after it; its Retry-After says when
        // the 28 would fit: the seconds those waiting searches and its own take past 30.
        const int asking = 28;
        var waitingBefore = pacing.WaitingSearches("ip:127.0.0.1");
        using var tooMany = await client.PostAsJsonAsync("/v1/lookup", new { items = Enumerable.Range(0, asking).Select(i => new { pdq = Pdq(100 + i) }).ToArray() });
        var waitingAfter = pacing.WaitingSearches("ip:127.0.0.1");
        using var fewer = await client.PostAsJsonAsync("/v1/lookup", new { items = Enumerable.Range(0, 3).Select(i => new { pdq = Pdq(200 + i) }).ToArray() }, stop.Token);
        stop.Cancel();

        var problem = await AssertProblemAsync(tooMany, HttpStatusCode.TooManyRequests, "too-many-requests");
        Assert.Contains("PDQ and embedding searches", problem.GetProperty("detail").GetString());
        Assert.InRange(long.Parse(tooMany.Headers.GetValues("Retry-After").Single()), waitingAfter + asking - 30, waitingBefore + asking - 30);
        Assert.Equal(HttpStatusCode.OK, fewer.StatusCode); // 19 + 3 fit in the 30 s
        await waiting.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    [Fact]
    public async Task A_run_takes_the_searches_the_engine_runs_not_those_of_items_it_refuses()
    {
        // Items the engine refuses (a bad url beside 16 vectors) must not use up the request's vector
        // allowance in the reckoning while the engine runs the wide searches that follow in full.
        await using var app = await StartAsync(perSecond: 1000);
        var engine = app.Services.GetRequiredService<LookupEngine>();
        var pacing = app.Services.GetRequiredService<ImageSearchPacing>();
        var vector = UnitVector(512);
        LookupEmbedding[] Sixteen() => Enumerable.Range(0, 16).Select(_ => new LookupEmbedding("resnet18-gem-v2", vector)).ToArray();
        var refused = Enumerable.Range(0, 16).Select(_ => new ReadItem(new LookupItem("ftp://refused.example/x.jpg", null, null, null, Embeddings: Sixteen()), null));
        var wide = Enumerable.Range(0, 16).Select(_ => new ReadItem(new LookupItem(null, null, null, null, Embeddings: Sixteen(), MinSimilarity: 0.5), null));
        var run = refused.Concat(wide).ToArray();
        var buffers = new LookupBuffers();

        engine.Prepare(run, buffers);

        Assert.All(buffers.Run.Take(16), item => Assert.Equal("invalid-url", item.Error?.Code));
        Assert.All(buffers.Run.Skip(16).Take(16), item => Assert.Null(item.Error));
        Assert.Equal(16 * 16 * ImageSearchPacing.WideSearchCost, pacing.CostOfPrepared(buffers));
    }

    [Fact]
    public async Task Stream_items_refused_for_too_many_searches_give_back_what_they_took_of_the_requests_caps()
    {
        // Sixteen items of sixteen vectors are a request's 256: refused for the client's pace and sent
        // again on the same stream, they must not meet too-many-embeddings.
        await using var app = await StartAsync(perSecond: 1000);
        var engine = app.Services.GetRequiredService<LookupEngine>();
        var vector = UnitVector(512);
        var run = Enumerable.Range(0, 16)
            .Select(_ => new ReadItem(new LookupItem(null, null, Pdq(1), 40, Embeddings: [.. Enumerable.Range(0, 16).Select(_ => new LookupEmbedding("resnet18-gem-v2", vector))]), null))
            .ToArray();
        var buffers = new LookupBuffers();

        engine.Prepare(run, buffers);
        engine.RefuseImageSearches(buffers, new LookupError("too-many-searches", null, "send it again later"));
        Assert.Equal((0, 0), (buffers.EmbeddingVectors, buffers.WidePdqSearches));
        engine.Prepare(run, buffers);

        Assert.All(buffers.Run.Take(16), item => Assert.Null(item.Error));
        Assert.Equal((256, 16), (buffers.EmbeddingVectors, buffers.WidePdqSearches));
    }

    [Theory]
    [InlineData("0.95")]
    [InlineData("0.9")]
    [InlineData("0.98")]
    public async Task A_vector_searched_at_the_registrys_own_threshold_is_one_search_whatever_the_threshold(string threshold)
    {
        // The engine holds the threshold as a float: 0.95 is 0.9499999881 there, below 0.95 as a double.
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Matching:EmbeddingMinSimilarity"] = threshold });
        var engine = app.Services.GetRequiredService<LookupEngine>();
        var pacing = app.Services.GetRequiredService<ImageSearchPacing>();
        var buffers = new LookupBuffers();

        engine.Prepare([new ReadItem(new LookupItem(null, null, null, null, Embeddings: [new LookupEmbedding("resnet18-gem-v2", UnitVector(512))]), null)], buffers);

        Assert.Null(buffers.Run[0].Error);
        Assert.Equal(1, pacing.CostOfPrepared(buffers));
    }

    /// <summary>A vector of length 1 with every component alike, as claims and lookups carry it.</summary>
    private static string UnitVector(int dimensions) =>
        ConsentRegistry.Core.Embeddings.EmbeddingVector.Encode(Enumerable.Repeat((float)(1 / Math.Sqrt(dimensions)), dimensions).ToArray());

    [Fact]
    public void A_clients_first_refusals_in_a_second_are_answered_at_once_and_later_ones_wait()
    {
        using var pacing = Pacing();
        HttpContext From(string address) => new DefaultHttpContext { Connection = { RemoteIpAddress = IPAddress.Parse(address) } };

        var first = new[] { pacing.DelaysRefusal(From("192.0.2.1")), pacing.DelaysRefusal(From("192.0.2.1")) };
        var third = pacing.DelaysRefusal(From("192.0.2.1"));
        var otherClient = pacing.DelaysRefusal(From("192.0.2.2"));
        var sameIpv6Prefix = new[] { pacing.DelaysRefusal(From("2001:db8::1")), pacing.DelaysRefusal(From("2001:db8::2")), pacing.DelaysRefusal(From("2001:db8::3")) };

        Assert.Equal([false, false], first); // one a second, two at once
        Assert.True(third);
        Assert.False(otherClient);
        Assert.Equal([false, false, true], sameIpv6Prefix); // one /64 is one client
    }

    /// <summary>
    /// Refused before its body is read (a client whose waiting searches leave no room for one more: a
    /// first batch of 40 at one search a second) or after (20 waiting leave room for one search, not
    /// for 28, for many seconds yet): either way, the first two refusals come at once and a later one a
    /// second later, each a whole 429 (none answered by a dropped connection).
    /// </summary>
    [Theory]
    [InlineData(40, 31, 1)]
    [InlineData(20, 18, 28)]
    public async Task A_client_resending_at_once_while_refused_gets_each_429_whole_but_a_second_later(int waitingBatch, int waitingAtLeast, int refusedBatch)
    {
        await using var app = await StartAsync(perSecond: 1);
        using var client = app.CreateClient();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var waiting = client.PostAsJsonAsync("/v1/lookup", new { items = Enumerable.Range(0, waitingBatch).Select(i => new { pdq = Pdq(i) }).ToArray() }, stop.Token);
        var pacing = app.Services.GetRequiredService<ImageSearchPacing>();
        await Eventually.HoldsAsync(() => pacing.WaitingSearches("ip:127.0.0.1") >= waitingAtLeast, "the first batch admitted and waiting");

        var took = new List<TimeSpan>();
        for (var i = 0; i < 4; i++)
        {
            var clock = Stopwatch.StartNew();
            using var refused = await client.PostAsJsonAsync("/v1/lookup", new { items = Enumerable.Range(0, refusedBatch).Select(j => new { pdq = Pdq(100 + (i * 30) + j) }).ToArray() });
            took.Add(clock.Elapsed);
            await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "too-many-requests");
            Assert.True(int.Parse(refused.Headers.GetValues("Retry-After").Single()) >= 1);
        }

        stop.Cancel();
        await waiting.ContinueWith(_ => { }, TaskScheduler.Default);
        // Of the last two at least one waited (the bucket may have refilled a token while they were answered).
        Assert.True(took.Skip(2).Max() >= TimeSpan.FromSeconds(0.9), string.Join(", ", took));
    }

    [Fact]
    public async Task Lookups_are_refused_while_four_of_their_clients_requests_wait_streams_at_their_start_too()
    {
        await using var app = await StartAsync(perSecond: 1);
        using var client = app.CreateClient();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // One search a second: four batches of seven searches (28, within the 30 s a client's admitted
        // searches may take) wait together, each holding its parsed body, for at least six seconds: the
        // first takes the bucket's token and waits for six more. A fifth request is refused at once. (Long
        // waits leave a slow test host seconds to send the last two while the four still wait.)
        var batches = Enumerable.Range(0, 4)
            .Select(i => client.PostAsJsonAsync("/v1/lookup", new { items = Enumerable.Range(0, 7).Select(j => new { pdq = Pdq((i * 7) + j) }).ToArray() }, stop.Token))
            .ToList();
        var pacing = app.Services.GetRequiredService<ImageSearchPacing>();
        await Eventually.HoldsAsync(() => pacing.WaitingRequests("ip:127.0.0.1") == ImageSearchPacing.MaxWaitingRequests, "four batches admitted and waiting");

        using var refused = await client.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { pdq = Pdq(99) } } }, stop.Token);

        // While the others still wait, a stream is refused at its start too, even one that brings no
        // image search (it could bring some).
        using var stream = await client.PostAsync("/v1/lookup/stream", new StringContent("{\"url\":\"https://pace.example/a.jpg\"}", Encoding.UTF8, "application/x-ndjson"));
        stop.Cancel();

        var problem = await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "too-many-requests");
        Assert.Contains($"{ImageSearchPacing.MaxWaitingRequests} of its requests", problem.GetProperty("detail").GetString());
        Assert.True(int.Parse(refused.Headers.GetValues("Retry-After").Single()) >= 1);
        await AssertProblemAsync(stream, HttpStatusCode.TooManyRequests, "too-many-requests");
        await Task.WhenAll(batches.Select(b => b.ContinueWith(_ => { }, TaskScheduler.Default)));
    }

    [Fact]
    public async Task Streams_admitted_at_once_wait_for_searches_at_most_four_at_a_time_the_others_runs_get_too_many_searches()
    {
        // Six streams opened at once are all admitted (none has a search waiting yet); then each sends
        // seven PDQ lines at one search a second. Four may wait (28 searches, 28 s); the other runs are
        // answered at once with an error per item, instead of waiting with their connections' unread lines.
        await using var app = await StartAsync(perSecond: 1);
        var pacing = app.Services.GetRequiredService<ImageSearchPacing>();
        var server = app.ClientOptions.BaseAddress;
        var sockets = new List<System.Net.Sockets.TcpClient>();
        try
        {
            var streams = new List<System.Net.Sockets.NetworkStream>();
            for (var i = 0; i < 6; i++)
            {
                var socket = new System.Net.Sockets.TcpClient();
                sockets.Add(socket);
                await socket.ConnectAsync(server.Host, server.Port);
                var stream = socket.GetStream();
                await stream.WriteAsync(Encoding.ASCII.GetBytes(
                    $"POST /v1/lookup/stream HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000000\r\n\r\n"));
                Assert.StartsWith("HTTP/1.1 200", await ReadUntilAsync(stream, "\r\n\r\n"), StringComparison.Ordinal);
                streams.Add(stream);
            }

            foreach (var (stream, i) in streams.Select((stream, i) => (stream, i)))
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 7).Select(j => PdqItem((i * 7) + j).ToJsonString() + "\n"))));
            }

            // A refused run is answered at once; a waiting one says nothing for seconds (the first for six).
            var answers = await Task.WhenAll(streams.Select(stream => ReadForAsync(stream, "\"i\":6", TimeSpan.FromSeconds(3))));
            var refused = answers.Select(answer => answer.Contains("too-many-searches", StringComparison.Ordinal)).ToArray();

            Assert.InRange(refused.Count(r => r), 1, 2); // two, unless a slow host let the first finish its seven seconds
            Assert.All(answers.Where(answer => answer.Contains("too-many-searches", StringComparison.Ordinal)),
                answer => Assert.Equal(7, Regex.Matches(answer, "\"code\":\"too-many-searches\"").Count));
            Assert.InRange(pacing.WaitingRequests("ip:127.0.0.1"), 1, ImageSearchPacing.MaxWaitingRequests);
        }
        finally
        {
            sockets.ForEach(socket => socket.Dispose());
        }
    }

    /// <summary>What <paramref name="stream"/> sends until <paramref name="what"/> has come, it ends, or <paramref name="time"/> passes.</summary>
    private static async Task<string> ReadForAsync(System.Net.Sockets.NetworkStream stream, string what, TimeSpan time)
    {
        var received = new StringBuilder();
        var buffer = new byte[8192];
        using var waiting = new CancellationTokenSource(time);
        try
        {
            while (!received.ToString().Contains(what, StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, waiting.Token);
                if (read == 0)
                {
                    break;
                }

                received.Append(Encoding.UTF8.GetString(buffer, 0, read));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // still waiting for its searches, or cut off after its answers (the server's minimum body rate)
        }

        return received.ToString();
    }

    /// <summary>What <paramref name="stream"/> sends until <paramref name="what"/> has come (within <paramref name="within"/>, 20 s by default).</summary>
    private static async Task<string> ReadUntilAsync(System.Net.Sockets.NetworkStream stream, string what, TimeSpan? within = null)
    {
        var received = new StringBuilder();
        var buffer = new byte[8192];
        using var waiting = new CancellationTokenSource(within ?? TimeSpan.FromSeconds(20));
        while (!received.ToString().Contains(what, StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, waiting.Token);
            Assert.True(read != 0, "closed after: " + received);
            received.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }

        return received.ToString();
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

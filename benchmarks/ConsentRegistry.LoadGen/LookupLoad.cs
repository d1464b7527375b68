using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace ConsentRegistry.LoadGen;

/// <summary>
/// Seeds a registry with the <see cref="LookupUniverse"/>'s subjects, then drives the three lookup
/// endpoints over HTTP and reports URLs/s, request latency and the server's resident memory.
/// Every endpoint's answers are first checked against the universe (untimed); the timed runs only
/// read and count the answers, so the client spends its share of the CPU on sending and reading.
/// </summary>
internal static class LookupLoad
{
    private const int SubjectsPerClaim = 10_000;

    /// <summary>URLs in one bulk request (the endpoints' and Spawning's maximum).</summary>
    private const int BatchSize = 10_000;
    private const int DistinctBatches = 16;

    /// <summary>
    /// Registers the universe's subjects and <paramref name="sha256"/> SHA-256 and <paramref name="pdq"/>
    /// PDQ hashes (<see cref="LookupUniverse.HashSubjects"/>) in 10,000-subject claims. Claims are
    /// made and signed as they are sent, so memory stays flat at any size.
    /// </summary>
    public static async Task<int> SeedAsync(Uri target, int subjects, int concurrency, int sha256 = 0, int pdq = 0)
    {
        var universe = new LookupUniverse(subjects);
        var total = (long)subjects + sha256 + pdq;
        var claimCount = (total + SubjectsPerClaim - 1) / SubjectsPerClaim;
        using var chunks = universe.RegisteredSubjects().Concat(LookupUniverse.HashSubjects(sha256, pdq)).Chunk(SubjectsPerClaim).GetEnumerator();
        var iat = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var signer = new ClaimSigner();

        using var client = CreateClient(target, concurrency);
        Console.WriteLine($"Seeding {total:N0} subjects ({universe.UrlCount:N0} url, {universe.PrefixCount:N0} url-prefix, {universe.HostCount:N0} host, {sha256:N0} sha256, {pdq:N0} pdq) in {claimCount:N0} claims…");
        var clock = Stopwatch.StartNew();
        var sent = 0L;
        var failures = 0;
        var report = Math.Max(1, claimCount / 10);
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (true)
            {
                string claim;
                long number;
                lock (chunks)
                {
                    if (!chunks.MoveNext())
                    {
                        return;
                    }

                    claim = signer.SignOptOut(chunks.Current, iat);
                    number = ++sent;
                }

                using var response = await client.PostAsync("/v1/claims", new StringContent(claim, Encoding.ASCII, "application/jose"));
                if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.OK) && Interlocked.Increment(ref failures) <= 3)
                {
                    Console.Error.WriteLine($"claim {number}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }

                if (number % report == 0)
                {
                    Console.Error.WriteLine($"  {number:N0} of {claimCount:N0} claims sent after {clock.Elapsed.TotalSeconds:F0} s");
                }
            }
        }));
        Console.WriteLine($"seeded:       {total:N0} subjects in {clock.Elapsed.TotalSeconds:F1} s ({total / clock.Elapsed.TotalSeconds:N0} subjects/s), {failures} claims failed");
        return failures == 0 ? 0 : 1;
    }

    public static async Task<int> RunAsync(Uri target, string endpoint, int subjects, int concurrency, int seconds, int rate, int? serverPid)
    {
        var universe = new LookupUniverse(subjects);
        var random = new Random(7);
        var batches = Enumerable.Range(0, DistinctBatches)
            .Select(_ => Enumerable.Range(0, BatchSize).Select(_ => universe.Query(random)).ToArray())
            .ToArray();
        var hits = batches.Sum(b => b.Count(q => q.Registered));
        Console.WriteLine($"Universe: {subjects:N0} registered subjects; {DistinctBatches} distinct batches of {BatchSize:N0} URLs, {100.0 * hits / (DistinctBatches * BatchSize):F1} % registered");

        using var client = CreateClient(target, concurrency + 1);
        var memory = new ServerMemory(serverPid);
        var endpoints = endpoint == "all" ? ["batch", "spawning", "stream"] : new[] { endpoint };
        var failed = false;
        foreach (var name in endpoints)
        {
            Console.WriteLine();
            Console.WriteLine($"== {name}: {concurrency} in flight, {seconds} s (after a {Math.Min(seconds, 5)} s warm-up)");
            failed |= name switch
            {
                "batch" => await RunBatchAsync(client, batches, concurrency, seconds, rate, memory),
                "spawning" => await RunSpawningAsync(client, batches, concurrency, seconds, memory),
                "stream" => await RunStreamAsync(client, batches, concurrency, seconds, memory),
                _ => throw new ArgumentException($"unknown endpoint {name}"),
            };
        }

        return failed ? 1 : 0;
    }

    /// <param name="rate">URLs/s the bulk workers send together (0: as fast as the server answers).</param>
    private static async Task<bool> RunBatchAsync(HttpClient client, (string Url, bool Registered)[][] batches, int concurrency, int seconds, int rate, ServerMemory memory)
    {
        var bodies = batches.Select(batch => BatchBody(batch.Select(q => q.Url))).ToArray();
        var probes = batches.Select(batch => BatchBody(batch.Take(1_000).Select(q => q.Url))).ToArray();
        var wrong = 0;
        for (var b = 0; b < batches.Length; b++)
        {
            using var response = await client.PostAsync("/v1/lookup", JsonContent(bodies[b]));
            using var document = JsonDocument.Parse(await ReadSuccessAsync(response));
            var results = document.RootElement.GetProperty("results");
            for (var i = 0; i < batches[b].Length; i++)
            {
                var optedOut = results[i].GetProperty("decision").GetProperty("train-ai").GetString() == "disallow";
                wrong += optedOut == batches[b][i].Registered ? 0 : 1;
            }
        }

        Console.WriteLine($"checked:      {batches.Length * batches[0].Length:N0} answers, {wrong} wrong");

        // A client sending 1,000-URL batches one after another while the bulk load runs: its latency is the p99 goal.
        var probe = new List<double>();
        var pacing = new Pacing(rate / (double)BatchSize);
        var result = await DriveAsync(concurrency, seconds, memory, async (worker, stop) =>
        {
            var latencies = new List<double>();
            for (var n = worker; !stop.IsCancellationRequested; n++)
            {
                await pacing.WaitTurnAsync(stop);
                var started = Stopwatch.GetTimestamp();
                using var response = await client.PostAsync("/v1/lookup", JsonContent(bodies[n % bodies.Length]));
                await DrainAsync(response);
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            return (latencies.Count * (long)BatchSize, latencies);
        }, async stop =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await client.PostAsync("/v1/lookup", JsonContent(probes[n % probes.Length]));
                await DrainAsync(response);
                probe.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        });
        result.Print(rate > 0 ? $"10,000-URL batch (paced at {rate:N0} URLs/s)" : "10,000-URL batch");
        Report.Latency("1,000-URL batch alongside", probe);
        return wrong > 0;
    }

    private static async Task<bool> RunSpawningAsync(HttpClient client, (string Url, bool Registered)[][] batches, int concurrency, int seconds, ServerMemory memory)
    {
        var bodies = batches.Select(batch => Encoding.UTF8.GetBytes(string.Join('\n', batch.Select(q => q.Url)))).ToArray();
        var wrong = 0;
        for (var b = 0; b < batches.Length; b++)
        {
            using var response = await client.SendAsync(SpawningRequest(bodies[b]));
            using var document = JsonDocument.Parse(await ReadSuccessAsync(response));
            var urls = document.RootElement.GetProperty("urls");
            for (var i = 0; i < batches[b].Length; i++)
            {
                var answer = urls[i];
                var right = answer.GetProperty("url").GetString() == batches[b][i].Url && answer.GetProperty("optOut").GetBoolean() == batches[b][i].Registered;
                wrong += right ? 0 : 1;
            }
        }

        Console.WriteLine($"checked:      {batches.Length * batches[0].Length:N0} answers, {wrong} wrong");
        var result = await DriveAsync(concurrency, seconds, memory, async (worker, stop) =>
        {
            var latencies = new List<double>();
            for (var n = worker; !stop.IsCancellationRequested; n++)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await client.SendAsync(SpawningRequest(bodies[n % bodies.Length]));
                await DrainAsync(response);
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            return (latencies.Count * (long)BatchSize, latencies);
        });
        result.Print("10,000-URL request");
        return wrong > 0;
    }

    private static async Task<bool> RunStreamAsync(HttpClient client, (string Url, bool Registered)[][] batches, int concurrency, int seconds, ServerMemory memory)
    {
        // One block of NDJSON lines, sent over and over for as long as the run lasts.
        var block = Encoding.UTF8.GetBytes(string.Concat(batches.SelectMany(b => b).Select(q => $"{{\"url\":{JsonSerializer.Serialize(q.Url)}}}\n")));
        var expected = batches.SelectMany(b => b).Select(q => q.Registered).ToArray();

        var wrong = 0;
        using (var request = await DuplexStreamRequest.StartAsync(client.BaseAddress!))
        {
            var sending = request.SendAsync(block, repeats: () => false);
            using var reader = new StreamReader(await request.ReadBodyAsync());
            var line = 0;
            while (await reader.ReadLineAsync() is { } text)
            {
                using var document = JsonDocument.Parse(text);
                var optedOut = document.RootElement.GetProperty("decision").GetProperty("train-ai").GetString() == "disallow";
                wrong += document.RootElement.GetProperty("i").GetInt32() == line && optedOut == expected[line] ? 0 : 1;
                line++;
            }

            await sending;
            wrong += Math.Abs(expected.Length - line);
        }

        Console.WriteLine($"checked:      {expected.Length:N0} answers, {wrong} wrong");
        var result = await DriveAsync(concurrency, seconds, memory, async (_, stop) =>
        {
            var started = Stopwatch.GetTimestamp();
            using var request = await DuplexStreamRequest.StartAsync(client.BaseAddress!);
            var sending = request.SendAsync(block, () => !stop.IsCancellationRequested);
            var lines = await CountLinesAsync(await request.ReadBodyAsync());
            await sending;
            return (lines, new List<double> { Stopwatch.GetElapsedTime(started).TotalMilliseconds });
        });
        result.Print("stream");
        return wrong > 0;
    }

    /// <summary>
    /// Runs <paramref name="concurrency"/> workers (and an optional probe) through a warm-up and then
    /// the timed run, sampling the server's memory every half second.
    /// </summary>
    private static async Task<Report> DriveAsync(
        int concurrency, int seconds, ServerMemory memory,
        Func<int, CancellationToken, Task<(long Urls, List<double> Latencies)>> worker,
        Func<CancellationToken, Task>? probe = null)
    {
        using (var warmUp = new CancellationTokenSource(TimeSpan.FromSeconds(Math.Min(seconds, 5))))
        {
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => worker(w, warmUp.Token)));
        }

        var rssBefore = memory.ResidentBytes();
        long rssPeak = rssBefore;
        var timeline = new List<long>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            for (var tick = 0; !sampling.IsCancellationRequested; tick++)
            {
                var rss = memory.ResidentBytes();
                rssPeak = Math.Max(rssPeak, rss);
                if (tick % 10 == 0)
                {
                    timeline.Add(rss);
                }

                await Task.Delay(500, CancellationToken.None);
            }
        });

        var clock = Stopwatch.StartNew();
        var probing = probe?.Invoke(stop.Token) ?? Task.CompletedTask;
        var results = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => worker(w, stop.Token)));
        clock.Stop();
        await probing;
        await sampling.CancelAsync();
        await sampler;
        return new Report(
            results.Sum(r => r.Urls), clock.Elapsed.TotalSeconds, results.SelectMany(r => r.Latencies).ToList(),
            rssBefore, rssPeak, memory.ResidentBytes(), timeline);
    }

    /// <summary>Hands out request start times at a fixed rate to any number of workers (no pacing at rate 0).</summary>
    private sealed class Pacing(double requestsPerSecond)
    {
        private readonly long _start = Stopwatch.GetTimestamp();
        private long _next = -1;

        public async Task WaitTurnAsync(CancellationToken stop)
        {
            if (requestsPerSecond <= 0)
            {
                return;
            }

            var due = TimeSpan.FromSeconds(Interlocked.Increment(ref _next) / requestsPerSecond) - Stopwatch.GetElapsedTime(_start);
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, stop).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    internal static HttpClient CreateClient(Uri target, int connections) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = connections,
        PooledConnectionLifetime = TimeSpan.FromMinutes(30),
    })
    { BaseAddress = target, Timeout = TimeSpan.FromMinutes(10) };

    private static byte[] BatchBody(IEnumerable<string> urls)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartArray("items");
            foreach (var url in urls)
            {
                json.WriteStartObject();
                json.WriteString("url", url);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static ByteArrayContent JsonContent(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static HttpRequestMessage SpawningRequest(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain") { CharSet = "utf-8" };
        return new HttpRequestMessage(HttpMethod.Post, "/api/v2/query/urls") { Content = content };
    }

    private static async Task<byte[]> ReadSuccessAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsByteArrayAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{(int)response.StatusCode}: {Encoding.UTF8.GetString(body)}");
        }

        return body;
    }

    private static async Task DrainAsync(HttpResponseMessage response)
    {
        response.EnsureSuccessStatusCode();
        await using var stream = await response.Content.ReadAsStreamAsync();
        await stream.CopyToAsync(Stream.Null);
    }

    private static async Task<long> CountLinesAsync(Stream stream)
    {
        var buffer = new byte[64 * 1024];
        long lines = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
        }

        return lines;
    }

    private sealed record Report(long Urls, double Seconds, List<double> Latencies, long RssBefore, long RssPeak, long RssAfter, List<long> Timeline)
    {
        public void Print(string unit)
        {
            Console.WriteLine($"URLs:         {Urls:N0} in {Seconds:F1} s");
            Console.WriteLine($"URLs/s:       {Urls / Seconds:N0}");
            Latency(unit, Latencies);
            if (RssBefore > 0)
            {
                Console.WriteLine($"server RSS:   {Mib(RssBefore)} before, {Mib(RssPeak)} peak, {Mib(RssAfter)} after");
                Console.WriteLine($"RSS every 5 s: {string.Join(", ", Timeline.Select(Mib))}");
            }
        }

        public static void Latency(string unit, List<double> latencies)
        {
            if (latencies.Count == 0)
            {
                return;
            }

            latencies.Sort();
            double At(double p) => latencies[Math.Min(latencies.Count - 1, (int)(p * latencies.Count))];
            Console.WriteLine($"{unit} ms: n {latencies.Count:N0}  p50 {At(0.50):F1}  p99 {At(0.99):F1}  max {latencies[^1]:F1}");
        }

        private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024.0):F0} MiB";
    }

    /// <summary>The server's resident set size from /proc (Linux), when its process id is known.</summary>
    private sealed class ServerMemory(int? pid)
    {
        public long ResidentBytes()
        {
            if (pid is null)
            {
                return 0;
            }

            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim()) * 1024;
                }
            }

            return 0;
        }
    }
}

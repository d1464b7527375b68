using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace ConsentRegistry.LoadGen;

/// <summary>
/// Registers N url-prefix opt-outs on one fresh host, then times its robots.txt: the first request
/// (store read, resolution and rendering), repeats served from the cache (200 with the body), and
/// revalidations (If-None-Match, 304). One request at a time, on one kept-alive connection.
/// </summary>
internal static class PolicyLoad
{
    public static async Task<int> RunAsync(Uri target, int prefixes, int requests)
    {
        using var client = new HttpClient { BaseAddress = target };
        var host = $"policy{DateTime.UtcNow:HHmmssfff}.bench.example";
        using var signer = new ClaimSigner();
        var subjects = Enumerable.Range(0, prefixes).Select(i => ("url-prefix", $"https://{host}/artists/{i}/", false)).ToList();
        foreach (var chunk in subjects.Chunk(10_000))
        {
            using var posted = await client.PostAsync("/v1/claims", new StringContent(signer.SignOptOut(chunk, DateTimeOffset.UtcNow.ToUnixTimeSeconds()), Encoding.ASCII, "application/jose"));
            if (posted.StatusCode != HttpStatusCode.Created)
            {
                Console.Error.WriteLine($"claim refused: {(int)posted.StatusCode} {await posted.Content.ReadAsStringAsync()}");
                return 1;
            }
        }

        var path = $"/v1/hosts/{host}/robots.txt";
        var clock = Stopwatch.StartNew();
        using var first = await client.GetAsync(path);
        var body = await first.Content.ReadAsByteArrayAsync();
        var cold = clock.Elapsed.TotalMilliseconds;
        var etag = first.Headers.ETag!;
        var lines = Encoding.UTF8.GetString(body).Split('\n');
        Console.WriteLine($"robots.txt:   {host}, {prefixes:N0} prefixes -> {body.Length / 1024.0:F1} KiB, " +
            $"{lines.Count(l => l.StartsWith("Disallow:", StringComparison.Ordinal)):N0} Disallow, {lines.Count(l => l.StartsWith("Content-Usage:", StringComparison.Ordinal)):N0} Content-Usage lines, ETag {etag}");
        Console.WriteLine($"first:        {cold:F2} ms (store read, resolution, rendering, HTTP)");

        // The body is read into one reused buffer: a new 250 KiB array per response would time the client's GC.
        var buffer = new byte[64 * 1024];
        var full = await TimeAsync(requests, async () =>
        {
            using var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
            await using var stream = await response.Content.ReadAsStreamAsync();
            long length = 0;
            for (int read; (read = await stream.ReadAsync(buffer)) > 0;)
            {
                length += read;
            }

            return length == body.Length && response.StatusCode == HttpStatusCode.OK;
        });
        Report("cached 200", full);
        var revalidated = await TimeAsync(requests, async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.IfNoneMatch.Add(etag);
            using var response = await client.SendAsync(request);
            return response.StatusCode == HttpStatusCode.NotModified;
        });
        Report("304", revalidated);
        return 0;
    }

    private static async Task<double[]> TimeAsync(int requests, Func<Task<bool>> send)
    {
        for (var i = 0; i < Math.Min(200, requests); i++)
        {
            await send(); // warm-up: JIT, connection
        }

        var timings = new double[requests];
        for (var i = 0; i < requests; i++)
        {
            var start = Stopwatch.GetTimestamp();
            if (!await send())
            {
                throw new InvalidOperationException("unexpected answer");
            }

            timings[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(timings);
        return timings;
    }

    private static void Report(string name, double[] sorted) =>
        Console.WriteLine($"{name + ":",-13} {sorted.Length:N0} requests, p50 {sorted[sorted.Length / 2]:F3} ms, p99 {sorted[(int)(sorted.Length * 0.99)]:F3} ms, max {sorted[^1]:F3} ms (client to client, loopback)");
}

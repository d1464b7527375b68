using System.Diagnostics;
using System.Net;
using System.Text;

namespace ConsentRegistry.LoadGen;

/// <summary>
/// POSTs pre-signed claims with N requests in flight and reports claims/s, subjects/s and latency.
/// Signing happens before the clock starts: the figure is the server's intake, not the client's crypto.
/// </summary>
internal static class ClaimsLoad
{
    public static async Task<int> RunAsync(Uri target, int count, int subjectsPerClaim, int concurrency)
    {
        Console.WriteLine($"Signing {count:N0} claims of {subjectsPerClaim:N0} URL subject(s) each…");
        var run = Guid.NewGuid().ToString("N")[..8];
        var iat = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var signers = new SignerPool(Math.Min(count, 32));
        var claims = new string[count];
        Parallel.For(0, count, i =>
        {
            var urls = new string[subjectsPerClaim];
            for (var s = 0; s < subjectsPerClaim; s++)
            {
                // LAION-like URLs: many hosts, long paths, query strings.
                urls[s] = $"https://cdn{(i * 7 + s) % 997}.img-host{i % 89}.example/{run}/user/{i}/gallery/2024/{s:x6}-steampunk-victorian-gentleman.jpg?w=1024&q=85&sig={i:x}{s:x}";
            }

            claims[i] = signers[i].SignOptOut(urls, iat);
        });

        using var client = LookupLoad.CreateClient(target, concurrency);

        var latencies = new double[count];
        var failures = 0;
        var next = -1;
        Console.WriteLine($"Posting to {target} with {concurrency} requests in flight…");
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await client.PostAsync("/v1/claims", new StringContent(claims[i], Encoding.ASCII, "application/jose"));
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.Created)
                {
                    if (Interlocked.Increment(ref failures) <= 3)
                    {
                        Console.Error.WriteLine($"claim {i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                    }
                }
            }
        }));
        clock.Stop();

        Array.Sort(latencies);
        var seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"claims:       {count:N0} in {seconds:F2} s, {failures} failed");
        Console.WriteLine($"claims/s:     {count / seconds:N0}");
        Console.WriteLine($"subjects/s:   {(double)count * subjectsPerClaim / seconds:N0}");
        Console.WriteLine($"latency ms:   p50 {Percentile(latencies, 0.50):F1}  p99 {Percentile(latencies, 0.99):F1}  max {latencies[^1]:F1}");
        return failures == 0 ? 0 : 1;
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    private sealed class SignerPool(int size) : IDisposable
    {
        private readonly ClaimSigner[] _signers = Enumerable.Range(0, size).Select(_ => new ClaimSigner()).ToArray();

        public ClaimSigner this[int i] => _signers[i % _signers.Length];

        public void Dispose()
        {
            foreach (var signer in _signers)
            {
                signer.Dispose();
            }
        }
    }
}

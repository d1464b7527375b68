using System.Diagnostics;
using System.Net;
using System.Text;

namespace ConsentRegistry.LoadGen;

/// <summary>What the well-behaved clients saw during one phase.</summary>
internal sealed record Report(
    double ArtistP50, double ArtistP99, double ArtistMax, int ArtistRequests, int Artists, double BuilderP99, int BuilderRequests, int Rejected, int Failed)
{
    public void Print(string during) => Console.WriteLine(
        $"well-behaved, {during}: artists' 20-URL claims p50 {ArtistP50:F0} ms, p99 {ArtistP99:F0} ms, slowest {ArtistMax:F0} ms ({ArtistRequests} claims from {Artists} artists), "
        + $"builder 10,000-URL batches p99 {BuilderP99:F0} ms ({BuilderRequests}); 429s {Rejected}, other errors {Failed}");
}

/// <summary>
/// The clients the abuse benchmark protects: artists, each registering 20 URLs every 3 seconds with a
/// new key each time, and a dataset builder sending 10,000-URL lookup batches paced at 150,000 URLs
/// a second, each from its own loopback address. The artists start a share of 3 s apart, so that
/// together they send one claim every 3/N s: ten give about 100 claims in a 30 s phase, enough for a
/// p99 that is not simply the slowest claim.
/// </summary>
internal sealed class WellBehaved(Uri target, int artists) : IDisposable
{
    private const int BatchUrls = 10_000;
    private const int UrlsPerSecond = 150_000;
    private static readonly TimeSpan ArtistInterval = TimeSpan.FromSeconds(3);

    private readonly HttpClient[] _artists = [.. Enumerable.Range(1, artists).Select(i => AbuseLoad.Http(target, IPAddress.Parse($"127.0.4.{i}")))];
    private readonly HttpClient _builder = AbuseLoad.Http(target, IPAddress.Parse("127.0.0.3"));
    private readonly byte[] _batch = Encoding.UTF8.GetBytes("{\"items\":[" + string.Join(',',
        Enumerable.Range(0, BatchUrls).Select(i => $"{{\"url\":\"https://dataset{i % 97}.example/img/{i}.jpg\"}}")) + "]}");
    private int _round;

    /// <summary>
    /// One claim per artist and one builder batch, not timed: each phase runs in a fresh process, and
    /// the first request of each client there pays for its connection and for compiling the client's
    /// own code. The unloaded run leaves out its first rounds likewise.
    /// </summary>
    public async Task WarmUpAsync()
    {
        foreach (var artist in _artists)
        {
            using var signer = new ClaimSigner();
            var urls = Enumerable.Range(0, 20).Select(i => $"https://portfolio-warm-up-{Guid.NewGuid():N}.example/works/{i}.jpg").ToList();
            using var claim = await artist.PostAsync("/v1/claims",
                new StringContent(signer.SignOptOut(urls, DateTimeOffset.UtcNow.ToUnixTimeSeconds()), Encoding.ASCII, "application/jose"));
            if (claim.StatusCode != HttpStatusCode.Created)
            {
                throw new InvalidOperationException($"warming up: an artist's claim got {(int)claim.StatusCode}");
            }
        }

        using var lookup = await _builder.PostAsync("/v1/lookup", new ByteArrayContent(_batch) { Headers = { ContentType = new("application/json") } });
        await lookup.Content.ReadAsByteArrayAsync();
        if (lookup.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"warming up: the builder's batch got {(int)lookup.StatusCode}");
        }
    }

    /// <summary>Runs the clients until <paramref name="attack"/> ends (at least 5 s), then reports.</summary>
    public async Task<Report> RunAsync(Task attack)
    {
        using var stop = new CancellationTokenSource();
        var artist = new List<double>();
        var builder = new List<double>();
        var rejected = 0;
        var failed = 0;
        void Count(HttpStatusCode status)
        {
            if (status == HttpStatusCode.TooManyRequests)
            {
                Interlocked.Increment(ref rejected);
            }
            else if ((int)status >= 400)
            {
                Interlocked.Increment(ref failed);
            }
        }

        var round = Interlocked.Increment(ref _round);
        var artistLoops = _artists.Select((client, a) => Task.Run(async () =>
        {
            await Delay(ArtistInterval * a / _artists.Length, stop.Token);
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                using var signer = new ClaimSigner();
                var urls = Enumerable.Range(0, 20).Select(i => $"https://portfolio{round}-{a}-{n}.example/works/{i}.jpg").ToList();
                var jws = signer.SignOptOut(urls, DateTimeOffset.UtcNow.ToUnixTimeSeconds()); // the client's work, not timed
                var started = Stopwatch.GetTimestamp();
                using var response = await client.PostAsync("/v1/claims", new StringContent(jws, Encoding.ASCII, "application/jose"));
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                lock (artist)
                {
                    artist.Add(elapsed);
                }

                Count(response.StatusCode);
                await Delay(ArtistInterval, stop.Token);
            }
        })).ToList();
        var builderLoop = Task.Run(async () =>
        {
            var interval = TimeSpan.FromSeconds((double)BatchUrls / UrlsPerSecond);
            var clock = Stopwatch.StartNew();
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await _builder.PostAsync("/v1/lookup", new ByteArrayContent(_batch) { Headers = { ContentType = new("application/json") } });
                await response.Content.ReadAsByteArrayAsync();
                builder.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                Count(response.StatusCode);
                var due = interval * (n + 1) - clock.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    await Delay(due, stop.Token);
                }
            }
        });

        await Task.WhenAll(attack, Task.Delay(TimeSpan.FromSeconds(5)));
        stop.Cancel();
        await Task.WhenAll([.. artistLoops, builderLoop]);
        artist.Sort();
        builder.Sort();
        return new Report(AbuseLoad.Percentile(artist, 0.5), AbuseLoad.Percentile(artist, 0.99), artist.Count == 0 ? 0 : artist[^1], artist.Count, _artists.Length,
            AbuseLoad.Percentile(builder, 0.99), builder.Count, rejected, failed);
    }

    public void Dispose()
    {
        foreach (var artist in _artists)
        {
            artist.Dispose();
        }

        _builder.Dispose();
    }

    private static async Task Delay(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }
}

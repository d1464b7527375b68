using System.Threading.Channels;
using ConsentRegistry.Cli.Console;
using ConsentRegistry.Cli.Deciding;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Cli.Scanning;

/// <summary>What decides an image's exclusion, as <c>scan</c> was asked: the category index, the PDQ radius, the lowest PDQ quality matched on.</summary>
public sealed record ScanRules(int UseCategory, int PdqMaxDistance, int MinQuality, int Threads);

/// <summary>
/// Scans one shard: one thread reads the images in order while <see cref="ScanRules.Threads"/>
/// workers hash them (decoding is the cost), then every image is looked up at once and the
/// exclusions file is written. Images read but not yet hashed share a byte budget
/// (<see cref="ReadAheadBytes"/>), so memory stays bounded whatever the shard holds.
/// </summary>
internal sealed class ShardScanner(IRegistrySource source, ImageHasher hasher, ScanRules rules, IProgressSink progress)
{
    /// <summary>Bytes of encoded images read ahead of the workers: far more than they need to stay busy, and above <see cref="Imaging.ImageLimits.MaxBytes"/>.</summary>
    public const int ReadAheadBytes = 256 * 1024 * 1024;

    private const int BudgetUnit = 1024 * 1024;

    /// <summary>An image on its way through: read, then hashed by one worker, then looked up.</summary>
    private sealed class Entry(ShardImage image, int units)
    {
        /// <summary>The image; its bytes are let go once it is hashed, so a shard's images are never all held at once.</summary>
        public ShardImage Image { get; set; } = image;

        public int Units { get; } = units;

        public ImageHashes Hashes { get; set; }
    }

    public async Task ScanAsync(Shard shard, ShardProgress state, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        var entries = await HashAllAsync(shard, state, cancellationToken);
        var keys = new LookupKey[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            keys[i] = KeyOf(entries[i], state);
        }

        var verdicts = new Verdict[entries.Count];
        await source.DecideAsync(keys, verdicts, listClaims: true, cancellationToken);

        var exclusions = new List<Exclusion>();
        for (var i = 0; i < entries.Count; i++)
        {
            var (image, hashes) = (entries[i].Image, entries[i].Hashes);
            if (verdicts[i].Error is { } error)
            {
                state.AddError(image.Member, $"not looked up: {error}", unscanned: true);
            }

            if (verdicts[i].Decision[rules.UseCategory] == Permission.Disallow)
            {
                exclusions.Add(new Exclusion(image.Key, image.Member, image.Url, hashes.Sha256, hashes.Pdq, hashes.Pdq is null ? null : hashes.Quality, verdicts[i]));
            }
        }

        await ExclusionsFile.WriteAsync(shard.ExclusionsPath, exclusions, metadata, cancellationToken);
        state.Images = entries.Count;
        state.Excluded = exclusions.Count;
        state.Done = true;
        progress.Advance(0, entries.Count - exclusions.Count, exclusions.Count);
    }

    /// <summary>
    /// The image's keys as the registry matches them: a URL it cannot canonicalize is left out, and
    /// so are the PDQ hash and embedding of an image below the minimum quality (flat or tiny images
    /// resemble unrelated ones), so that the other keys still count.
    /// </summary>
    private LookupKey KeyOf(Entry entry, ShardProgress state)
    {
        var (image, hashes) = (entry.Image, entry.Hashes);
        if (hashes.Error is not null)
        {
            state.Undecodable++;
            state.AddError(image.Member, hashes.Error);
        }

        var url = image.Url;
        if (url is not null && !UrlCanonicalizer.TryCanonicalize(url, out _, out _))
        {
            state.InvalidUrls++;
            url = null;
        }

        var (pdq, embedding) = (hashes.Pdq, hashes.Embedding);
        if (pdq is not null && hashes.Quality < rules.MinQuality)
        {
            state.LowQuality++;
            (pdq, embedding) = (null, null);
        }

        return new LookupKey(url.AsMemory(), hashes.Sha256, pdq, pdq is null ? null : rules.PdqMaxDistance, embedding);
    }

    private async Task<List<Entry>> HashAllAsync(Shard shard, ShardProgress state, CancellationToken cancellationToken)
    {
        var entries = new List<Entry>();
        using var budget = new SemaphoreSlim(ReadAheadBytes / BudgetUnit);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var channel = Channel.CreateBounded<Entry>(new BoundedChannelOptions(rules.Threads * 4) { SingleWriter = true });
        var reading = Task.Run(async () =>
        {
            try
            {
                foreach (var image in ShardReader.Read(shard, state.AddError))
                {
                    var entry = new Entry(image, (int)Math.Max(1, ((long)(image.Bytes?.Length ?? 0) + BudgetUnit - 1) / BudgetUnit));
                    for (var unit = 0; unit < entry.Units; unit++)
                    {
                        await budget.WaitAsync(stop.Token);
                    }

                    entries.Add(entry);
                    await channel.Writer.WriteAsync(entry, stop.Token);
                }
            }
            finally
            {
                channel.Writer.Complete();
            }
        }, stop.Token);

        try
        {
            var options = new ParallelOptions { MaxDegreeOfParallelism = rules.Threads, CancellationToken = stop.Token };
            await Parallel.ForEachAsync(channel.Reader.ReadAllAsync(stop.Token), options, async (entry, token) =>
            {
                try
                {
                    entry.Hashes = entry.Image.Bytes is { } bytes
                        ? await hasher.HashAsync(bytes, token)
                        : new ImageHashes(entry.Image.Sha256!, null, 0, entry.Image.Error);
                }
                finally
                {
                    entry.Image = entry.Image with { Bytes = null };
                    budget.Release(entry.Units);
                }

                progress.Advance(1, 0, 0);
            });
        }
        catch
        {
            await stop.CancelAsync();
            await reading.ContinueWith(static _ => { }, TaskScheduler.Default);
            throw;
        }

        await reading;
        return entries;
    }
}

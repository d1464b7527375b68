using System.Collections.Concurrent;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Pdq;
using ConsentRegistry.Core.Snapshots;
using ConsentRegistry.Core.Urls;
using ConsentRegistry.Cli.Snapshots;

namespace ConsentRegistry.Cli.Deciding;

/// <summary>
/// Decides rows offline from an index snapshot (docs/snapshot-format.md) read into this process
/// through Core: the same index and resolution code the service runs, no network. The index is
/// only read, so every core decides rows at once.
/// </summary>
public sealed class SnapshotSource : IRegistrySource
{
    /// <summary>Rows one worker decides at a time.</summary>
    private const int Chunk = 4096;

    private readonly MatchingIndex _index;
    private readonly TrustLevel _minTrustForGrants;
    private readonly int _pdqMaxDistance;
    private readonly string?[] _claimIds;

    // A worker's buffers (a chunk's URL probes: 96 bytes each, about 400 KB) are kept from one call to the next:
    // a call decides one row group, and new ones each time would be large-object allocations.
    private readonly ConcurrentBag<ChunkBuffers> _spareBuffers = [];

    private SnapshotSource(MatchingIndex index, SourceDescription description, TrustLevel minTrustForGrants, int pdqMaxDistance)
    {
        _index = index;
        Description = description;
        _minTrustForGrants = minTrustForGrants;
        _pdqMaxDistance = pdqMaxDistance;
        _claimIds = new string?[index.ClaimCount];
    }

    public SourceDescription Description { get; }

    /// <summary>Claims in the snapshot, for the log.</summary>
    public int ClaimCount => _index.ClaimCount;

    /// <summary>
    /// Reads the snapshot at <paramref name="path"/>: an <c>index.snap</c> file (with the manifest
    /// <c>snapshot pull</c> writes beside it, when there), or a snapshot folder as the service keeps them.
    /// </summary>
    public static SnapshotSource Open(string path, TrustLevel minTrustForGrants, int pdqMaxDistance = 31)
    {
        var file = SnapshotFiles.Locate(path);
        try
        {
            // The index is read once and kept for the whole run: its arrays go to the pinned heap.
            using var reader = new SnapshotReader(file.IndexPath) { PinLargeArrays = true };
            // Embeddings are searched through the sign-code index the snapshot holds, if any (16
            // candidates a vector, as the service's default); otherwise exactly.
            var index = MatchingIndex.ReadSnapshotForLookups(reader, SignCodeVectors.SavedOnly(candidates: 16));
            var header = reader.Header;
            var id = file.Manifest?.Id ?? SnapshotManifest.IdFor(header.Seq, header.Created);
            // The manifest names the snapshot in the run's summary: it must be this file's (its SHA-256 is left to `snapshot info`, a read of the whole file).
            if (file.Manifest is { } manifest && (!manifest.Describes(header)
                || manifest.Files?.FirstOrDefault(f => f.Name == SnapshotManifest.IndexFileName)?.Size != new FileInfo(file.IndexPath).Length))
            {
                index.Dispose();
                throw CliException.Input(
                    $"{file.IndexPath}: its manifest ({file.ManifestPath}) is of another snapshot (seq {manifest.Seq}, created {manifest.Created:O}; the file's are {header.Seq}, {header.Created:O}), or of another size.");
            }

            return new SnapshotSource(index, new SourceDescription("snapshot", null, id, header.Seq, header.Created), minTrustForGrants, pdqMaxDistance);
        }
        catch (SnapshotFormatException e)
        {
            throw CliException.Input($"{file.IndexPath}: not a usable index snapshot: {e.Message}", e);
        }
        catch (EndOfStreamException e)
        {
            throw CliException.Input($"{file.IndexPath}: not a usable index snapshot: the file ends early (truncated?).", e);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            throw CliException.Input($"{file.IndexPath}: cannot read the snapshot: {e.Message}", e);
        }
    }

    public Task DecideAsync(ReadOnlyMemory<LookupKey> keys, Memory<Verdict> verdicts, bool listClaims, CancellationToken cancellationToken)
    {
        var chunks = (keys.Length + Chunk - 1) / Chunk;
        Parallel.For(0, chunks, new ParallelOptions { CancellationToken = cancellationToken }, () => _spareBuffers.TryTake(out var spare) ? spare : new ChunkBuffers(), (chunk, _, buffers) =>
        {
            var start = chunk * Chunk;
            var count = Math.Min(Chunk, keys.Length - start);
            var keySpan = keys.Span.Slice(start, count);
            var verdictSpan = verdicts.Span.Slice(start, count);
            var probes = buffers.Probes.AsSpan(0, count);

            // The URLs first, so that each lookup can ask for the cache lines of those after it.
            for (var i = 0; i < count; i++)
            {
                probes[i] = default;
                if (keySpan[i].Url.IsEmpty)
                {
                    continue;
                }

                if (UrlCanonicalizer.TryCanonicalize(keySpan[i].Url.Span, out var canonical, out var error))
                {
                    probes[i] = new UrlProbe(canonical);
                }
                else
                {
                    verdictSpan[i] = new Verdict(Decision.Unknown, Error: error); // its probe stays empty
                }
            }

            for (var i = 0; i < count; i++)
            {
                _index.PrefetchAhead(probes, i);
                if (keySpan[i].Url.IsEmpty || !probes[i].IsEmpty) // else its URL was refused above
                {
                    verdictSpan[i] = Decide(keySpan[i], probes[i], listClaims, buffers.Matches);
                }
            }

            return buffers;
        }, _spareBuffers.Add);
        return Task.CompletedTask;
    }

    /// <summary>What one worker reuses from chunk to chunk.</summary>
    private sealed class ChunkBuffers
    {
        public List<Match> Matches { get; } = [];

        public UrlProbe[] Probes { get; } = new UrlProbe[Chunk];
    }

    private Verdict Decide(in LookupKey key, in UrlProbe url, bool listClaims, List<Match> matches)
    {
        if (!listClaims && key is { Sha256: null, Pdq: null, Embedding: null })
        {
            return new Verdict(_index.Decide(url, _minTrustForGrants, out _)); // the same decision, no listing
        }

        PdqHash? pdq = null;
        if (key.Pdq is not null)
        {
            if (!PdqHash.TryParseHex(key.Pdq, out var hash))
            {
                return new Verdict(Decision.Unknown, Error: "not a PDQ hash (64 hexadecimal digits)");
            }

            pdq = hash;
        }

        var embedding = key.Embedding is { } vector
            ? new EmbeddingQuery(vector.Model, [vector.Vector], vector.MinSimilarity ?? (float)EmbeddingQuery.DefaultMinSimilarity)
            : null;

        // One pass over the index, listing the matches too: a row that matched nothing costs no
        // more than a bare decision, and one that matched is not looked up twice.
        var result = _index.Lookup(url, key.Sha256, _minTrustForGrants, matches, out _, pdq, key.PdqMaxDistance ?? _pdqMaxDistance, embedding);
        return matches.Count == 0 ? new Verdict(result) : new Verdict(result, ClaimIds(matches), MatchedBy: MatchedBy(matches));
    }

    public Task CheckEmbeddingModelAsync(ImageVector probe, CancellationToken cancellationToken)
    {
        var models = _index.ClaimedVectorModels();
        if (models.Count == 0 || models.Any(model => model.Model == probe.Model && model.Dimensions == probe.Vector.Length))
        {
            return Task.CompletedTask;
        }

        var held = string.Join(", ", models.Select(model => $"'{model.Model}' ({model.Dimensions} dimensions, {model.Vectors:N0} vectors)"));
        throw CliException.Input(
            $"The snapshot's claims carry vectors of {held}, and this scan embeds with '{probe.Model}' ({probe.Vector.Length} dimensions): "
            + "vectors of different models are never compared. Name the registry's model with --embedding-model (docs/cli.md).");
    }

    private string? ClaimIds(List<Match> matches)
    {
        if (matches.Count == 0)
        {
            return null;
        }

        if (matches.Count == 1)
        {
            return ClaimId(matches[0].Claim);
        }

        var ids = new string[matches.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = ClaimId(matches[i].Claim);
        }

        return string.Join(' ', ids.Distinct(StringComparer.Ordinal));
    }

    /// <summary>A claim's id as text, made once per claim: a claim may decide millions of rows.</summary>
    private string ClaimId(int claim)
    {
        var ids = _claimIds;
        return (uint)claim < (uint)ids.Length ? ids[claim] ??= _index.Claim(claim).Id : _index.Claim(claim).Id;
    }

    private static string? MatchedBy(List<Match> matches) => matches.Count switch
    {
        0 => null,
        1 => matches[0].By.ToWire(),
        _ => string.Join(' ', matches.Select(match => match.By.ToWire()).Distinct(StringComparer.Ordinal)),
    };

    public ValueTask DisposeAsync()
    {
        _index.Dispose();
        return ValueTask.CompletedTask;
    }
}

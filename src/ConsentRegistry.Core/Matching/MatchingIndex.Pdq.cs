using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Core.Matching;

/// <summary>PDQ subjects: a <see cref="PdqIndex"/> whose values are claim numbers (decision record 0004); and the merges of segments.</summary>
public sealed partial class MatchingIndex
{
    private readonly PdqIndex _pdq = new() { DeferMerges = true };
    private KeyTable[]? _keyTables;

    /// <summary>
    /// Puts the index in its fastest shape to search; worth its cost (a fraction of a second per
    /// million subjects) once, after the build from the store.
    /// </summary>
    public void Compact()
    {
        _pdq.Compact();
        foreach (var table in KeyTables)
        {
            table.Compact();
        }

        MakeCompactedKeysHot();

        TrimHostPostings();
        _claims.TrimExcess();
    }

    /// <summary>
    /// Builds the segment merge that is due, if any, in the PDQ index or a key table
    /// (<see cref="PdqIndex.PrepareMerge"/>, <see cref="KeyTable.PrepareMerge"/>): safe beside
    /// lookups, so the writer runs it outside the write lock.
    /// </summary>
    public IndexMerge? PrepareMerge()
    {
        if (_pdq.PrepareMerge() is { } pdq)
        {
            return new IndexMerge(pdq, null, null, []);
        }

        foreach (var table in KeyTables)
        {
            if (table.PrepareMerge() is { } keys)
            {
                // Keys crowded within the merged segment turn hot with it; the pass reads it here, beside lookups.
                var crowded = _bulkLoading ? [] : keys.Segment.KeysWithAtLeast(_hotKeyPostings);
                return new IndexMerge(null, table, keys, crowded);
            }
        }

        return null;
    }

    /// <summary>Swaps a prepared merge in; under the write lock.</summary>
    public void CommitMerge(IndexMerge merge)
    {
        if (merge.Pdq is { } pdq)
        {
            _pdq.CommitMerge(pdq);
        }
        else
        {
            merge.Table!.CommitMerge(merge.Keys!);
            if (merge.Crowded.Count > 0)
            {
                var by = Array.Find(SubjectTables, table => table.Table == merge.Table).By;
                MakeCrowdedKeysHot(merge.Table, by, merge.Crowded);
            }
        }
    }

    private KeyTable[] KeyTables => _keyTables ??= [_urls, _prefixes, _hosts, _sha256];

    private (KeyTable Table, MatchKind By)[] SubjectTables =>
        [(_urls, MatchKind.Url), (_prefixes, MatchKind.UrlPrefix), (_hosts, MatchKind.Host), (_sha256, MatchKind.Sha256)];

    private void AddPdq(string hex, int claim) => _pdq.Add(PdqHash.ParseHex(hex), claim);

    private void CollectPdq(in PdqHash query, int maxDistance, ref CandidateList candidates)
    {
        var sink = new PdqCandidates(_claims, candidates);
        _pdq.Search(query, maxDistance, ref sink);
        candidates = sink.Candidates;
    }

    /// <summary>
    /// Turns PDQ hits into candidates. The subject key is the fingerprint of the hash's canonical
    /// hex, as for the other kinds, so that "latest iat per party and subject" treats equal hashes
    /// as one subject.
    /// </summary>
    private ref struct PdqCandidates(ClaimTable claims, CandidateList candidates) : IPdqHitSink
    {
        public CandidateList Candidates = candidates;

        public void Add(int value, int distance, in PdqHash hash)
        {
            if (claims.IsRevoked(value))
            {
                return;
            }

            Span<char> hex = stackalloc char[PdqHash.HexLength];
            hash.TryFormatHex(hex, out _);
            Candidates.Add(new Candidate(value, MatchKind.Pdq, Fingerprint.Of(hex), distance));
        }
    }
}

/// <summary>A merge of a PDQ index's or a key table's segments, built beside lookups (<see cref="MatchingIndex.PrepareMerge"/>).</summary>
public sealed class IndexMerge
{
    internal IndexMerge(SegmentMerge<PdqSegment>? pdq, KeyTable? table, SegmentMerge<KeySegment>? keys, List<Key80> crowded)
    {
        Pdq = pdq;
        Table = table;
        Keys = keys;
        Crowded = crowded;
    }

    /// <summary>Keys with the hot-key length of postings within the merged segment.</summary>
    internal List<Key80> Crowded { get; }

    internal SegmentMerge<PdqSegment>? Pdq { get; }

    internal KeyTable? Table { get; }

    internal SegmentMerge<KeySegment>? Keys { get; }
}

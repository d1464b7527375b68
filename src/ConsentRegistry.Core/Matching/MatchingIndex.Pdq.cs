using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Core.Matching;

/// <summary>PDQ subjects: a <see cref="PdqIndex"/> whose values are claim numbers (decision record 0004).</summary>
public sealed partial class MatchingIndex
{
    private readonly PdqIndex _pdq = new() { DeferMerges = true };

    /// <summary>
    /// Puts the index in its fastest shape to search; worth its cost (a fraction of a second per
    /// million PDQ subjects) once, after the build from the store.
    /// </summary>
    public void Compact()
    {
        _pdq.Compact();
        TrimHostPostings();
    }

    /// <summary>
    /// Builds the PDQ segment merge that is due, if any (<see cref="PdqIndex.PrepareMerge"/>):
    /// safe beside lookups, so the writer runs it outside the write lock.
    /// </summary>
    public PdqMerge? PreparePdqMerge() => _pdq.PrepareMerge();

    /// <summary>Swaps a prepared merge in; under the write lock.</summary>
    public void CommitPdqMerge(PdqMerge merge) => _pdq.CommitMerge(merge);

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
    private ref struct PdqCandidates(ClaimEntry[] claims, CandidateList candidates) : IPdqHitSink
    {
        public CandidateList Candidates = candidates;

        public void Add(int value, int distance, in PdqHash hash)
        {
            if (claims[value].Revoked)
            {
                return;
            }

            Span<char> hex = stackalloc char[PdqHash.HexLength];
            hash.TryFormatHex(hex, out _);
            Candidates.Add(new Candidate(value, MatchKind.Pdq, Fingerprint.Of(hex), distance));
        }
    }
}

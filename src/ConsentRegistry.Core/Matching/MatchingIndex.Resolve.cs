namespace ConsentRegistry.Core.Matching;

// The parts of resolving an item that must stay cheap however many candidates it has: cold keys
// give at most a few dozen, but PDQ hits are not aggregated, so a hash that many parties claimed
// gives one candidate each. Small lists are compared pairwise; larger ones are sorted.
public sealed partial class MatchingIndex
{
    private const int PairwiseUpTo = 16;

    private Comparison<Candidate>? _bySubjectPartyNewest;

    /// <summary>Marks all but the latest (iat, then seq) candidate of each party on each subject key as superseded.</summary>
    private void MarkSuperseded(Span<Candidate> candidates)
    {
        if (candidates.Length <= PairwiseUpTo)
        {
            for (var i = 0; i < candidates.Length; i++)
            {
                for (var j = i + 1; j < candidates.Length; j++)
                {
                    ref var a = ref candidates[i];
                    ref var b = ref candidates[j];
                    if (a.Superseded || b.Superseded || !SameSubjectAndParty(a, b))
                    {
                        continue;
                    }

                    if (IsNewer(b.Claim, a.Claim))
                    {
                        a.Superseded = true;
                    }
                    else
                    {
                        b.Superseded = true;
                    }
                }
            }

            return;
        }

        candidates.Sort(_bySubjectPartyNewest ??= CompareBySubjectPartyNewest);
        for (var i = 1; i < candidates.Length; i++)
        {
            candidates[i].Superseded = SameSubjectAndParty(candidates[i - 1], candidates[i]);
        }
    }

    private bool SameSubjectAndParty(in Candidate a, in Candidate b) =>
        a.Key == b.Key && a.By == b.By && _claims.Party(a.Claim) == _claims.Party(b.Claim);

    private bool IsNewer(int claim, int than) => _claims.IsNewer(claim, than);

    private int CompareBySubjectPartyNewest(Candidate a, Candidate b)
    {
        var order = a.Key.CompareTo(b.Key);
        if (order == 0)
        {
            order = a.By.CompareTo(b.By);
        }

        if (order == 0)
        {
            order = _claims.Party(a.Claim).CompareTo(_claims.Party(b.Claim));
        }

        return order != 0 ? order : IsNewer(a.Claim, b.Claim) ? -1 : IsNewer(b.Claim, a.Claim) ? 1 : 0;
    }

    /// <summary>
    /// Keeps one match per (claim, kind of key): a claim that matched through several of its
    /// subjects of one kind (PDQ hashes, a host and its parent) is listed once, with the smallest distance.
    /// </summary>
    private static void OnePerClaimAndKind(List<Match> matches)
    {
        matches.Sort(static (a, b) =>
        {
            var order = a.Claim.CompareTo(b.Claim);
            if (order == 0)
            {
                order = a.By.CompareTo(b.By);
            }

            order = order != 0 ? order : a.Distance.CompareTo(b.Distance);
            return order != 0 ? order : b.Similarity.CompareTo(a.Similarity); // the closest first: the one kept
        });
        var kept = 1;
        for (var i = 1; i < matches.Count; i++)
        {
            var previous = matches[kept - 1];
            var match = matches[i];
            if (match.Claim != previous.Claim || match.By != previous.By)
            {
                matches[kept++] = match;
            }
        }

        matches.RemoveRange(kept, matches.Count - kept);
    }
}

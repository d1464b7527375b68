using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// Other parties' live claims that a claim's image fingerprints match (DESIGN.md 5.7): its PDQ
/// hashes within the default radius, its embeddings at the default similarity, whether the claim
/// carries them itself or the worker derived them from its URLs. Matches reach other claims' own
/// subjects and their derived sets alike. Shared by <c>GET /v1/claims/{id}/near-duplicates</c>
/// and the recorder of pairs.
/// </summary>
internal sealed class NearDuplicateSearch(SharedMatchingIndex index, int pdqMaxDistance, double minSimilarity)
{
    /// <summary>Image subjects of one claim searched at most (a claim may hold 10,000).</summary>
    public const int MaxSubjectsSearched = 256;

    /// <summary>Other parties' claims taken at most per subject searched, strongest trust and newest first.</summary>
    public const int MaxMatchesPerSubject = 256;

    /// <summary>
    /// Other parties' claims taken at most per embedding when proposing aligned verifications, before the most alike
    /// are kept: the index cuts by trust and age, not by similarity, and at the candidates' lower threshold many
    /// unrelated pictures of the same kind are alike.
    /// </summary>
    public const int MaxCandidatesPerSubject = 2048;

    /// <summary>
    /// The best match per other claim and kind; empty when the index does not hold <paramref name="claimId"/>,
    /// or holds it revoked and <paramref name="evenIfRevoked"/> is false.
    /// </summary>
    public List<NearDuplicate> Find(string claimId, IEnumerable<Subject> subjects, bool evenIfRevoked = true) =>
        Find(claimId, subjects, evenIfRevoked, out _);

    /// <summary>
    /// <see cref="Find(string, IEnumerable{Subject}, bool)"/>; <paramref name="complete"/> is false when
    /// a subject's matches were cut at <see cref="MaxMatchesPerSubject"/>: another claim missing from
    /// the answer may still match. (Callers cut the subjects to <see cref="MaxSubjectsSearched"/> themselves.)
    /// </summary>
    public List<NearDuplicate> Find(string claimId, IEnumerable<Subject> subjects, bool evenIfRevoked, out bool complete)
    {
        complete = true;
        int party;
        using (var first = index.Read())
        {
            if (!first.Index.TryFindClaim(claimId, out var number))
            {
                return [];
            }

            party = first.Index.Claim(number).Party;
        }

        var images = subjects.Where(s => s.Kind is SubjectKinds.Pdq or SubjectKinds.Embedding).Take(MaxSubjectsSearched).ToList();
        var found = new Dictionary<(int Claim, MatchKind By), Match>();
        var matches = new List<Match>();
        foreach (var subject in images)
        {
            // One search per hold of the lock, as lookups hold it per chunk: the writer waits for one search, not 256.
            using (var scope = index.Read())
            {
                if (subject.Kind == SubjectKinds.Pdq)
                {
                    scope.Index.FindOtherParties(PdqHash.ParseHex(subject.Value), pdqMaxDistance, null, party, MaxMatchesPerSubject, matches);
                }
                else
                {
                    var (model, value) = Subject.EmbeddingParts(subject.Value);
                    scope.Index.FindOtherParties(null, 0,
                        new EmbeddingQuery(model, [EmbeddingVector.DecodeStored(value)], (float)minSimilarity), party, MaxMatchesPerSubject, matches);
                }
            }

            complete &= matches.Count < MaxMatchesPerSubject;
            foreach (var match in matches)
            {
                var key = (match.Claim, match.By);
                if (!found.TryGetValue(key, out var kept) || match.Distance < kept.Distance || match.Similarity > kept.Similarity)
                {
                    found[key] = match;
                }
            }
        }

        using var read = index.Read();
        var registry = read.Index;
        if (!registry.TryFindClaim(claimId, out var self))
        {
            return [];
        }

        var own = registry.Claim(self);
        if (own.Revoked && !evenIfRevoked)
        {
            return [];
        }

        var best = new Dictionary<(string Claim, MatchKind By), NearDuplicate>();
        foreach (var match in found.Values)
        {
            var other = registry.Claim(match.Claim); // a claim's entry or one of its derived sets: same id, party and usage
            if (other.Revoked || other.Party == own.Party)
            {
                continue;
            }

            var item = new NearDuplicate(other.Id, registry.PartyName(other.Party), match.By,
                match.By == MatchKind.Pdq ? match.Distance : null,
                match.By == MatchKind.Embedding ? Math.Round(match.Similarity, 4) : null,
                Disagree(own.Usage, other.Usage));
            if (!best.TryGetValue((item.Claim, item.By), out var kept) || item.Distance < kept.Distance || item.Similarity > kept.Similarity)
            {
                best[(item.Claim, item.By)] = item;
            }
        }

        return [.. best.Values];
    }

    /// <summary>
    /// Candidates for aligned verification (DESIGN.md 5.7): the images of other parties' live claims, fetched by
    /// the worker from their URLs, whose embeddings are alike to one of <paramref name="subjects"/> at
    /// <paramref name="candidateSimilarity"/> or more but under the near-duplicate threshold (at or over it they are a
    /// pair already), the <paramref name="limit"/> most alike, one per claim; empty when the index does not hold
    /// <paramref name="claimId"/> or holds it revoked. Claims' own embedding subjects are left out: no URL
    /// gives the picture behind them.
    /// </summary>
    public List<VerificationCandidate> Candidates(string claimId, IEnumerable<Subject> subjects, double candidateSimilarity, int limit)
    {
        var best = new Dictionary<string, (Match Match, string Url)>(StringComparer.Ordinal);
        var paired = new HashSet<string>(StringComparer.Ordinal);
        var matches = new List<Match>();
        int party;
        using (var first = index.Read())
        {
            if (!first.Index.TryFindClaim(claimId, out var number) || first.Index.Claim(number).Revoked)
            {
                return [];
            }

            party = first.Index.Claim(number).Party;
        }

        foreach (var subject in subjects.Where(s => s.Kind == SubjectKinds.Embedding).Take(MaxSubjectsSearched))
        {
            var (model, value) = Subject.EmbeddingParts(subject.Value);
            using var scope = index.Read();
            var registry = scope.Index;
            registry.FindOtherParties(null, 0,
                new EmbeddingQuery(model, [EmbeddingVector.DecodeStored(value)], (float)candidateSimilarity), party, MaxCandidatesPerSubject, matches);
            foreach (var match in matches)
            {
                // An entry of a derived set names the URL its picture came from; a claim's own entry names none.
                var other = registry.Claim(match.Claim).Id;
                if (match.Similarity >= minSimilarity)
                {
                    paired.Add(other);
                    continue;
                }

                if (registry.DerivedFrom(match.Claim) is not { } url)
                {
                    continue;
                }

                if (!best.TryGetValue(other, out var kept) || match.Similarity > kept.Match.Similarity)
                {
                    best[other] = (match, url);
                }
            }
        }

        using var read = index.Read();
        if (!read.Index.TryFindClaim(claimId, out var self) || read.Index.Claim(self).Revoked)
        {
            return [];
        }

        var own = read.Index.Claim(self);
        return best.Where(b => !paired.Contains(b.Key)).Select(b => b.Value)
            .Select(b => (b.Match, b.Url, Other: read.Index.Claim(b.Match.Claim)))
            .Where(b => !b.Other.Revoked && b.Other.Party != own.Party)
            .OrderByDescending(b => b.Match.Similarity).ThenBy(b => b.Other.Id, StringComparer.Ordinal)
            .Take(limit)
            .Select(b => new VerificationCandidate(b.Other.Id, b.Url, Math.Round(b.Match.Similarity, 4), Disagree(own.Usage, b.Other.Usage)))
            .ToList();
    }

    /// <summary>Whether one says "y" where the other says "n", in any category (after each one's hierarchy).</summary>
    public static bool Disagree(Usage a, Usage b)
    {
        var (x, y) = (a.WithHierarchyApplied(), b.WithHierarchyApplied());
        for (var category = 0; category < UseCategories.All.Count; category++)
        {
            if ((x[category], y[category]) is (Preference.Yes, Preference.No) or (Preference.No, Preference.Yes))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Another party's claim whose picture, at <see cref="Url"/>, is to be laid over a claim's to see whether it is a copy.</summary>
internal sealed record VerificationCandidate(string Claim, string Url, double Similarity, bool Conflict);

/// <summary>Another party's claim that one of a claim's image fingerprints matches.</summary>
internal sealed record NearDuplicate(string Claim, string Party, MatchKind By, int? Distance, double? Similarity, bool Conflict);

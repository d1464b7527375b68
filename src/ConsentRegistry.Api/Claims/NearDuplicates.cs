using System.Text.Json.Serialization;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Pdq;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// <c>GET /v1/claims/{id}/near-duplicates</c> (DESIGN.md 5.7): the other parties' claims that one of
/// this claim's image subjects (PDQ within the default radius, embeddings at the default
/// similarity) matches, each marked <c>conflict</c> when the two disagree on a category (one's "y"
/// against the other's "n"). Computed from the matching index when asked, so it is as current as
/// the index. The resolution rule does not change: any "n" wins.
/// </summary>
internal static class NearDuplicates
{
    /// <summary>Image subjects of one claim searched at most (a claim may hold 10,000).</summary>
    public const int MaxSubjectsSearched = 256;

    public static async Task<Results<Ok<NearDuplicatesResponse>, ProblemHttpResult>> Get(
        string id, ClaimStore store, SharedMatchingIndex index, IOptions<MatchingOptions> matching, LookupEngine engine, CancellationToken cancellationToken)
    {
        if (!ClaimId.IsWellFormed(id))
        {
            return Problems.InvalidClaimId();
        }

        var stored = await store.GetAsync(id, cancellationToken);
        if (stored is null)
        {
            return Problems.ClaimNotFound(id);
        }

        var images = stored.Subjects.Where(s => s.Kind is SubjectKinds.Pdq or SubjectKinds.Embedding).Take(MaxSubjectsSearched).ToList();
        var found = new Dictionary<(int Claim, MatchKind By), Match>();
        var matches = new List<Match>();
        foreach (var subject in images)
        {
            // One search per hold of the lock, as lookups hold it per chunk: the writer waits for one search, not 256.
            using (var scope = index.Read())
            {
                if (subject.Kind == SubjectKinds.Pdq)
                {
                    scope.Index.Lookup(null, null, engine.MinTrustForGrants, matches, PdqHash.ParseHex(subject.Value), matching.Value.PdqMaxDistance);
                }
                else
                {
                    var (model, value) = Subject.EmbeddingParts(subject.Value);
                    scope.Index.Lookup(null, null, engine.MinTrustForGrants, matches,
                        embeddings: new EmbeddingQuery(model, [EmbeddingVector.DecodeStored(value)], (float)matching.Value.EmbeddingMinSimilarity));
                }
            }

            foreach (var match in matches)
            {
                var key = (match.Claim, match.By);
                if (!found.TryGetValue(key, out var kept) || match.Distance < kept.Distance || match.Similarity > kept.Similarity)
                {
                    found[key] = match;
                }
            }
        }

        List<NearDuplicateItem> items;
        using (var scope = index.Read())
        {
            var registry = scope.Index;
            var usage = stored.Claim.Usage;
            items = found.Values
                .Select(m => (Match: m, Entry: registry.Claim(m.Claim)))
                .Where(x => !x.Entry.Revoked && registry.PartyName(x.Entry.Party) != stored.Claim.Party)
                .Select(x => new NearDuplicateItem(
                    x.Entry.Id, registry.PartyName(x.Entry.Party), x.Match.By.ToWire(),
                    x.Match.By == MatchKind.Pdq ? x.Match.Distance : null,
                    x.Match.By == MatchKind.Embedding ? Math.Round(x.Match.Similarity, 4) : null,
                    Disagree(usage, x.Entry.Usage)))
                .OrderByDescending(i => i.Conflict).ThenBy(i => i.Distance ?? 0).ThenByDescending(i => i.Similarity ?? 0).ThenBy(i => i.Claim, StringComparer.Ordinal)
                .ToList();
        }

        return TypedResults.Ok(new NearDuplicatesResponse(items));
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

/// <summary>The answer of <c>GET /v1/claims/{id}/near-duplicates</c>.</summary>
public sealed record NearDuplicatesResponse([property: JsonPropertyName("items")] IReadOnlyList<NearDuplicateItem> Items);

/// <summary>Another party's claim that one of this claim's image subjects matches.</summary>
public sealed record NearDuplicateItem(
    [property: JsonPropertyName("claim")] string Claim,
    [property: JsonPropertyName("party")] string Party,
    [property: JsonPropertyName("by")] string By,
    [property: JsonPropertyName("distance"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Distance,
    [property: JsonPropertyName("similarity"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Similarity,
    [property: JsonPropertyName("conflict")] bool Conflict);

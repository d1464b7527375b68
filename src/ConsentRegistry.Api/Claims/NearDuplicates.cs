using System.Text.Json.Serialization;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// <c>GET /v1/claims/{id}/near-duplicates</c> (DESIGN.md 5.7): the other parties' claims that this
/// claim's image fingerprints match (its own PDQ and embedding subjects, and the fingerprints the
/// worker derived from its URLs), each marked <c>conflict</c> when the two disagree on a category
/// (one's "y" against the other's "n"). Computed from the matching index when asked, so it is as
/// current as the index; the pairs aligned verification found (the worker laid one claimed picture
/// over the other) are read from the store, <c>"by": "aligned"</c>, as the worker recorded them.
/// The resolution rule does not change: any "n" wins.
/// </summary>
internal static class NearDuplicates
{
    /// <summary>The <c>by</c> of a pair found by aligned verification (no <see cref="MatchKind"/>: lookups never match this way).</summary>
    public const string AlignedBy = "aligned";

    public static async Task<Results<Ok<NearDuplicatesResponse>, ProblemHttpResult>> Get(
        string id, NearDuplicateStore pairs, NearDuplicateSearch search, IndexUpdater updater, CancellationToken cancellationToken)
    {
        // Read-your-writes, as lookups: a claim this instance just wrote is searched against. (Its own
        // commit goes into the index directly unless a worker's derived set came first; then the
        // index catches up from the store, and this waits for it.)
        await updater.WaitForOwnWritesAsync(cancellationToken);
        if (!ClaimId.IsWellFormed(id))
        {
            return Problems.InvalidClaimId();
        }

        // Its image subjects and derived sets only: the claim's JWS (up to 8 MB) is not read.
        if (await pairs.SearchedSubjectsAsync(id, cancellationToken) is not var (subjects, _))
        {
            return Problems.ClaimNotFound(id);
        }

        var aligned = await pairs.AlignedPairsAsync(id, NearDuplicateSearch.MaxMatchesPerSubject, cancellationToken);
        var items = search.Find(id, subjects)
            .Select(d => new NearDuplicateItem(d.Claim, d.Party, d.By.ToWire(), d.Distance, d.Similarity, d.Conflict))
            .Concat(aligned.Select(a => new NearDuplicateItem(a.Claim, a.Party, AlignedBy, a.Distance, null, a.Conflict == 1)))
            .OrderByDescending(i => i.Conflict).ThenBy(i => i.Distance ?? 0).ThenByDescending(i => i.Similarity ?? 0).ThenBy(i => i.Claim, StringComparer.Ordinal)
            .ToList();
        return TypedResults.Ok(new NearDuplicatesResponse(items));
    }
}

/// <summary>The answer of <c>GET /v1/claims/{id}/near-duplicates</c>.</summary>
public sealed record NearDuplicatesResponse([property: JsonPropertyName("items")] IReadOnlyList<NearDuplicateItem> Items);

/// <summary>Another party's claim that one of this claim's image fingerprints matches.</summary>
public sealed record NearDuplicateItem(
    [property: JsonPropertyName("claim")] string Claim,
    [property: JsonPropertyName("party")] string Party,
    [property: JsonPropertyName("by")] string By,
    [property: JsonPropertyName("distance"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Distance,
    [property: JsonPropertyName("similarity"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Similarity,
    [property: JsonPropertyName("conflict")] bool Conflict);

using System.Text.Json.Serialization;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Matching;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentRegistry.Api.Admin;

/// <summary>
/// <c>GET /v1/admin/conflicts</c> (DESIGN.md 5.7): recorded near-duplicate pairs whose two claims
/// disagree on a category and are both still in force, oldest first, paged by pair id, one item
/// per pair of claims. A recorded pair is checked again in the matching index when listed, as
/// <c>GET /v1/claims/{id}/near-duplicates</c> of each claim would find it: one that no longer holds
/// (a newer claim of the same party on the same picture supersedes one of them, or the image behind
/// a claimed URL changed) is left out, and listed again should it hold again (the newer claim
/// revoked). For review only: lookups keep the resolution rule (any "n" wins).
/// </summary>
internal static class ConflictAdmin
{
    public const int DefaultPageSize = 100;
    public const int MaxPageSize = 500;

    public static async Task<Results<Ok<ConflictListResponse>, ValidationProblem>> ListConflicts(
        NearDuplicateStore pairs, NearDuplicateSearch search, SharedMatchingIndex index, IndexUpdater updater,
        CancellationToken cancellationToken, long? after = null, int? limit = null)
    {
        var errors = new Dictionary<string, string[]>();
        if (after is < 0)
        {
            errors["after"] = ["after is a pair id (0 or more), the next_after of the previous page."];
        }

        if (limit is < 1 or > MaxPageSize)
        {
            errors["limit"] = [$"limit is 1 to {MaxPageSize}."];
        }

        if (errors.Count > 0)
        {
            return Problems.Validation(errors, ProblemCodes.InvalidQuery);
        }

        await updater.WaitForOwnWritesAsync(cancellationToken); // read-your-writes, as lookups
        var pageSize = limit ?? DefaultPageSize;
        var rows = await pairs.ListConflictsAsync(after ?? 0, pageSize, cancellationToken);
        var check = new PairCheck(pairs, search);
        var items = new List<ConflictItem>(rows.Count);
        foreach (var r in rows)
        {
            var (by, distance, similarity) = (r.MatchKind, r.Distance, r.Similarity);

            // An index behind the row's entry cannot check it yet (another instance recorded it): listed as recorded.
            if (index.AppliedSeq >= r.FoundSeq)
            {
                var (holds, now) = await check.HoldsAsync(r.AId, r.BId, r.MatchKind, cancellationToken);
                if (!holds)
                {
                    continue;
                }

                if (now is not null)
                {
                    (by, distance, similarity) = (now.By.ToWire(), now.Distance, now.Similarity);
                }
            }

            items.Add(new ConflictItem(
                r.Id, by, distance, similarity is { } s ? Math.Round(s, 4) : null, DateTimeOffset.FromUnixTimeSeconds(r.FoundAt),
                [
                    new ConflictClaim(r.AId, r.AParty, new UsageResponse(r.ATdm, r.ATrainAi, r.ATrainGenai, r.AAiUse, r.ASearch)),
                    new ConflictClaim(r.BId, r.BParty, new UsageResponse(r.BTdm, r.BTrainAi, r.BTrainGenai, r.BAiUse, r.BSearch)),
                ]));
        }

        // The page ends where the rows read end: a page may list fewer items than its limit.
        return TypedResults.Ok(new ConflictListResponse(items, rows.Count == pageSize ? rows[^1].Id : null));
    }

    /// <summary>
    /// Whether a recorded pair still holds: each claim's search finds the other, disagreeing. A
    /// claim with more image subjects than one search takes is searched in part only, so its side
    /// cannot disprove the pair and counts as holding. Each claim is searched once a page.
    /// </summary>
    private sealed class PairCheck(NearDuplicateStore pairs, NearDuplicateSearch search)
    {
        private readonly Dictionary<string, List<NearDuplicate>?> _found = new(StringComparer.Ordinal);

        /// <summary>Whether the pair holds, and the match as the first claim's search finds it now (null when not searched in full).</summary>
        public async Task<(bool Holds, NearDuplicate? Now)> HoldsAsync(string a, string b, string recordedBy, CancellationToken cancellationToken)
        {
            var fromA = await FindAsync(a, cancellationToken);
            var fromB = await FindAsync(b, cancellationToken);
            var now = fromA?.Where(d => d.Claim == b && d.Conflict).OrderBy(d => d.By.ToWire() == recordedBy ? 0 : 1).FirstOrDefault();
            var holds = (fromA is null || now is not null) && (fromB is null || fromB.Any(d => d.Claim == a && d.Conflict));
            return (holds, now);
        }

        /// <summary>What the claim's search finds; null when it searches only part of the claim.</summary>
        private async Task<List<NearDuplicate>?> FindAsync(string claim, CancellationToken cancellationToken)
        {
            if (!_found.TryGetValue(claim, out var found))
            {
                var (subjects, complete) = await pairs.SearchedSubjectsAsync(claim, cancellationToken);
                found = complete ? search.Find(claim, subjects, evenIfRevoked: false) : null;
                _found[claim] = found;
            }

            return found;
        }
    }
}

public sealed record ConflictListResponse(
    [property: JsonPropertyName("items")] IReadOnlyList<ConflictItem> Items,
    [property: JsonPropertyName("next_after")] long? NextAfter);

/// <summary>Two claims of different parties on near-duplicate pictures that disagree on a category.</summary>
public sealed record ConflictItem(
    [property: JsonPropertyName("id")] long Id,
    [property: JsonPropertyName("by")] string By,
    [property: JsonPropertyName("distance"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Distance,
    [property: JsonPropertyName("similarity"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Similarity,
    [property: JsonPropertyName("found_at")] DateTimeOffset FoundAt,
    [property: JsonPropertyName("claims")] IReadOnlyList<ConflictClaim> Claims);

public sealed record ConflictClaim(
    [property: JsonPropertyName("claim")] string Claim,
    [property: JsonPropertyName("party")] string Party,
    [property: JsonPropertyName("usage")] UsageResponse Usage);

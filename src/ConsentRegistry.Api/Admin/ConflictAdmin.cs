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

    /// <summary>
    /// Subjects of the claims a page reads to check its pairs, about, at most (a page always checks
    /// its first pair): as a recorder's pass, so that a page of catalogue claims is not gigabytes.
    /// A page that reaches it ends early, its next_after at the last pair it checked.
    /// </summary>
    public const int SubjectsPerPage = 20_000;

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
        long? nextAfter = rows.Count == pageSize ? rows[^1].Id : null; // the page ends where the rows read end: it may list fewer items than its limit
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            if (i > 0 && check.SubjectsRead >= SubjectsPerPage)
            {
                nextAfter = rows[i - 1].Id;
                break;
            }

            var (by, distance, similarity) = (r.MatchKind, r.Distance, r.Similarity);

            // An index behind the row's entry cannot check it yet (another instance recorded it): listed as recorded.
            // So is a pair that aligned verification found: the worker compared the pictures, which no search can redo.
            if (index.AppliedSeq >= r.FoundSeq && r.MatchKind != NearDuplicates.AlignedBy)
            {
                var (holds, now) = await check.HoldsAsync(r, cancellationToken);
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

        return TypedResults.Ok(new ConflictListResponse(items, nextAfter));
    }

    /// <summary>
    /// Whether a recorded pair still holds: each claim's search finds the other, disagreeing. A
    /// search that is not complete (a claim with more image subjects than one search takes, or a
    /// subject whose matches were cut at the search's limit) cannot disprove the pair, so that side
    /// counts as holding. Each claim is searched once a page.
    /// </summary>
    private sealed class PairCheck(NearDuplicateStore pairs, NearDuplicateSearch search)
    {
        private readonly Dictionary<string, List<NearDuplicate>?> _found = new(StringComparer.Ordinal);

        /// <summary>The subjects of the claims searched so far (their whole subject lists are read).</summary>
        public long SubjectsRead { get; private set; }

        /// <summary>Whether the pair holds, and the match as the first claim's search finds it now (null when not searched in full).</summary>
        public async Task<(bool Holds, NearDuplicate? Now)> HoldsAsync(ConflictRow row, CancellationToken cancellationToken)
        {
            var fromA = await FindAsync(row.AId, row.ASubjectCount, cancellationToken);
            var fromB = await FindAsync(row.BId, row.BSubjectCount, cancellationToken);
            var now = fromA?.Where(d => d.Claim == row.BId && d.Conflict).OrderBy(d => d.By.ToWire() == row.MatchKind ? 0 : 1).FirstOrDefault();
            var holds = (fromA is null || now is not null) && (fromB is null || fromB.Any(d => d.Claim == row.AId && d.Conflict));
            return (holds, now);
        }

        /// <summary>What the claim's search finds; null when the search is not complete.</summary>
        private async Task<List<NearDuplicate>?> FindAsync(string claim, long subjectCount, CancellationToken cancellationToken)
        {
            if (!_found.TryGetValue(claim, out var found))
            {
                SubjectsRead += subjectCount;
                found = null;
                if (await pairs.SearchedSubjectsAsync(claim, cancellationToken) is (var subjects, true))
                {
                    var searched = search.Find(claim, subjects, evenIfRevoked: false, out var allMatches);
                    found = allMatches ? searched : null;
                }

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

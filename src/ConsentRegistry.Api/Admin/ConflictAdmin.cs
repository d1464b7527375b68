using System.Text.Json.Serialization;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentRegistry.Api.Admin;

/// <summary>
/// <c>GET /v1/admin/conflicts</c> (DESIGN.md 5.7): recorded near-duplicate pairs whose two claims
/// disagree on a category and are both still in force, oldest first, paged by pair id. For review
/// only: lookups keep the resolution rule (any "n" wins).
/// </summary>
internal static class ConflictAdmin
{
    public const int DefaultPageSize = 100;
    public const int MaxPageSize = 500;

    public static async Task<Results<Ok<ConflictListResponse>, ValidationProblem>> ListConflicts(
        NearDuplicateStore pairs, CancellationToken cancellationToken, long? after = null, int? limit = null)
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

        var pageSize = limit ?? DefaultPageSize;
        var rows = await pairs.ListConflictsAsync(after ?? 0, pageSize, cancellationToken);
        var items = rows.Select(r => new ConflictItem(
            r.Id, r.MatchKind, r.Distance, r.Similarity is { } s ? Math.Round(s, 4) : null, DateTimeOffset.FromUnixTimeSeconds(r.FoundAt),
            [
                new ConflictClaim(r.AId, r.AParty, new UsageResponse(r.ATdm, r.ATrainAi, r.ATrainGenai, r.AAiUse, r.ASearch)),
                new ConflictClaim(r.BId, r.BParty, new UsageResponse(r.BTdm, r.BTrainAi, r.BTrainGenai, r.BAiUse, r.BSearch)),
            ])).ToList();
        return TypedResults.Ok(new ConflictListResponse(items, rows.Count == pageSize ? rows[^1].Id : null));
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

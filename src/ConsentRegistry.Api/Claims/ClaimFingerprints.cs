using System.Text.Json.Serialization;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// <c>GET /v1/claims/{id}/fingerprints</c> (DESIGN.md 5.7): for each url subject of the claim, what
/// the worker found behind it: pending (not fetched yet, or its first tries failed and will be
/// retried), done (with the SHA-256, PDQ and quality derived), or failed (with the reason; the
/// fingerprints of an earlier success stay in use). Subjects are listed in the claim's order, read
/// from the stored subjects without the claim's JWS.
/// </summary>
internal static class ClaimFingerprints
{
    public static async Task<Results<Ok<FingerprintsResponse>, ProblemHttpResult>> Get(
        string id, ClaimStore claims, FingerprintJobStore jobs, CancellationToken cancellationToken)
    {
        if (!ClaimId.IsWellFormed(id))
        {
            return Problems.InvalidClaimId();
        }

        if (await claims.UrlSubjectsAsync(id, cancellationToken) is not { } urls)
        {
            return Problems.ClaimNotFound(id);
        }

        var rows = (await jobs.ListAsync(id, cancellationToken)).ToDictionary(row => row.Url, StringComparer.Ordinal);
        var items = urls
            .Select(url => rows.TryGetValue(url, out var row) ? ToItem(row) : new FingerprintItem(url, JobStatus.Pending))
            .ToList();
        return TypedResults.Ok(new FingerprintsResponse(items));
    }

    private static FingerprintItem ToItem(FingerprintJobRow row) => new(
        row.Url,
        row.Status,
        row.Error,
        row.FetchedAt is { } at ? DateTimeOffset.FromUnixTimeSeconds(at) : null,
        row.Sha256,
        row.Pdq,
        row.Quality);
}

/// <summary>The answer of <c>GET /v1/claims/{id}/fingerprints</c>.</summary>
public sealed record FingerprintsResponse([property: JsonPropertyName("fingerprints")] IReadOnlyList<FingerprintItem> Fingerprints);

/// <summary>What the worker derived from the image behind one claimed URL.</summary>
public sealed record FingerprintItem(
    [property: JsonPropertyName("url")] string Url,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("error"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error = null,
    [property: JsonPropertyName("fetched_at"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? FetchedAt = null,
    [property: JsonPropertyName("sha256"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Sha256 = null,
    [property: JsonPropertyName("pdq"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Pdq = null,
    [property: JsonPropertyName("quality"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Quality = null);

using System.Text.Json.Serialization;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Urls;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentRegistry.Api.Verification;

/// <summary>One of a party's hosts. Times are unix seconds; <c>failures</c> counts failed re-checks in a row.</summary>
public sealed record PartyDomainResponse(
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("verified_at")] long VerifiedAt,
    [property: JsonPropertyName("last_checked_at")] long LastCheckedAt,
    [property: JsonPropertyName("failures")] long Failures,
    [property: JsonPropertyName("last_failure")] string? LastFailure);

public sealed record PartyDomainsResponse(
    [property: JsonPropertyName("party")] string Party,
    [property: JsonPropertyName("domains")] IReadOnlyList<PartyDomainResponse> Domains,
    [property: JsonPropertyName("next_after")] string? NextAfter);

/// <summary><c>GET /v1/parties/{party}/domains</c>: public, as the verifications rest on public files.</summary>
internal static class PartyDomains
{
    private const int DefaultPageSize = 100;
    private const int MaxPageSize = 500;

    internal static async Task<Results<Ok<PartyDomainsResponse>, ValidationProblem>> List(
        string party, DomainVerificationStore store, CancellationToken cancellationToken, string? after = null, int? limit = null)
    {
        var errors = new Dictionary<string, string[]>();
        if (!PartyId.IsWellFormed(party))
        {
            errors["party"] = [DomainVerificationEndpoints.PartyIdRule];
        }

        if (after is not null && !(HostCanonicalizer.TryCanonicalize(after, out var canonical, out _) && canonical == after))
        {
            errors["after"] = ["after is a canonical host, the next_after of the previous page."];
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
        var rows = await store.ListAsync(party, after ?? "", pageSize, cancellationToken);
        var domains = rows
            .Select(r => new PartyDomainResponse(r.Host, r.Status, r.VerifiedAt, r.LastCheckedAt, r.Failures, r.LastFailure))
            .ToList();
        return TypedResults.Ok(new PartyDomainsResponse(party, domains, rows.Count == pageSize ? rows[^1].Host : null));
    }
}

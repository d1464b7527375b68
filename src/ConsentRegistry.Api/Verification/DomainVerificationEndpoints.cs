using System.Globalization;
using System.Net;
using System.Text.Json.Serialization;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Urls;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentRegistry.Api.Verification;

/// <summary>The answer to a successful verification.</summary>
public sealed record DomainVerificationResponse(
    [property: JsonPropertyName("party")] string Party,
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("verified")] bool Verified,
    [property: JsonPropertyName("claims_raised")] int ClaimsRaised,
    [property: JsonPropertyName("seq")] long Seq);

/// <summary>
/// Domain verification (DESIGN.md 5.6). No authentication: the proof is the file the host serves.
/// Rate-limited per client address, since each call makes the registry fetch from the internet.
/// </summary>
public static class DomainVerificationEndpoints
{
    public const string RateLimitPolicy = "domain-verification";

    /// <summary>The problem <c>type</c> of every failed verification; <c>code</c> says which failure.</summary>
    public const string FailedType = "verification-failed";

    internal const string PartyIdRule = "A party id is the 43-character base64url RFC 7638 thumbprint of its key.";

    public static RouteGroupBuilder MapDomainVerification(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/parties")
            .WithTags("Domains")
            .RequireRateLimiting(RateLimitPolicy)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

        group.MapPost("/{party}/domains/{host}/verify", Verify)
            .WithName("VerifyDomain")
            .WithSummary("Fetch https://{host}/.well-known/consent-registry.json; if it lists the party's key, raise the party's claims on that host to trust 'domain'.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        // Reading costs the registry no fetch: not under the verification rate limit but, like a
        // party's claim list, under the claim-read limit per address.
        app.MapGet("/v1/parties/{party}/domains", PartyDomains.List)
            .RequireRateLimiting(ClaimReadRateLimitPolicy.Name)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .WithSingleQueryValues()
            .WithTags("Domains")
            .WithName("ListPartyDomains")
            .WithSummary("A party's verified and lapsed hosts, in host order, paged with ?after=<host>&limit=<1..500>.")
            .ProducesValidationProblem();

        return group;
    }

    internal static async Task<Results<Ok<DomainVerificationResponse>, ProblemHttpResult, ValidationProblem>> Verify(
        string party, string host, DomainVerifier verifier, RegistryMetrics metrics, HttpContext context, CancellationToken cancellationToken)
    {
        if (InvalidPath(party, host, out var canonical) is { } invalid)
        {
            return invalid;
        }

        var result = await verifier.VerifyAsync(party, canonical!, cancellationToken);
        metrics.DomainVerified(result.Verified ? "verified" : result.Code!);
        if (result.Verified)
        {
            return TypedResults.Ok(new DomainVerificationResponse(party, canonical!, true, result.ClaimsRaised, result.Seq));
        }

        if (result.Code == VerificationCodes.Busy)
        {
            context.Response.Headers.RetryAfter = DomainVerifier.BusyRetrySeconds.ToString(CultureInfo.InvariantCulture);
            return Problems.Create(StatusCodes.Status503ServiceUnavailable, result.Code, result.Detail);
        }

        var problem = Problems.Create(StatusCodes.Status422UnprocessableEntity, result.Code!, result.Detail, title: "Domain verification failed");
        problem.ProblemDetails.Type = ProblemTypes.Of(FailedType);
        problem.ProblemDetails.Extensions["party"] = party;
        problem.ProblemDetails.Extensions["host"] = canonical;
        return problem;
    }

    /// <summary>
    /// The checks on a <c>{party}/domains/{host}</c> path: null and the canonical host when both
    /// are well-formed, otherwise the 400 naming each bad one.
    /// </summary>
    internal static ValidationProblem? InvalidPath(string party, string host, out string? canonical)
    {
        var errors = new Dictionary<string, string[]>();
        if (!PartyId.IsWellFormed(party))
        {
            errors["party"] = [PartyIdRule];
        }

        if (!HostCanonicalizer.TryCanonicalize(host, out canonical, out var hostError))
        {
            errors["host"] = [$"host is a bare host name such as artist.example, without scheme, port or path ({hostError})."];
        }
        else if (!FitsDns(canonical))
        {
            errors["host"] = ["host is longer than DNS allows: at most 253 characters in all and 63 per label (in punycode), no empty label."];
        }

        return errors.Count > 0 ? Problems.Validation(errors, ProblemCodes.InvalidPath) : null;
    }

    /// <summary>DNS limits (RFC 1035 2.3.4) on a canonical host; IP literals have none.</summary>
    internal static bool FitsDns(string host)
    {
        if (host.StartsWith('[') || IPAddress.TryParse(host, out _))
        {
            return true;
        }

        if (host.Length > 253)
        {
            return false;
        }

        foreach (var label in host.AsSpan().Split('.'))
        {
            var length = label.End.Value - label.Start.Value;
            if (length is < 1 or > 63)
            {
                return false;
            }
        }

        return true;
    }
}

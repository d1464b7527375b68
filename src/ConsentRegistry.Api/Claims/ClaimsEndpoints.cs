using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace ConsentRegistry.Api.Claims;

/// <summary>Signed claims and revocations (DESIGN.md 5.1). Submitting needs no account: the signature is the credential.</summary>
public static class ClaimsEndpoints
{
    private const int DefaultPageSize = 100;
    private const int MaxPageSize = 500;

    public static RouteGroupBuilder MapClaims(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1").WithTags("Claims");

        group.MapPost("/claims", SubmitClaim)
            .RequireRateLimiting(ClaimWriteRateLimitPolicy.Name)
            .WithName("SubmitClaim")
            .WithSummary("Submit a signed claim (compact JWS, ES256 or EdDSA, jwk in the protected header).")
            .Accepts<JwsEnvelope>("application/json", JwsBody.JoseMediaType)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .WithMetadata(new RequestSizeLimitAttribute(JwsBody.MaxBytes));

        group.MapGet("/claims/{id}", GetClaim)
            .RequireRateLimiting(ClaimReadRateLimitPolicy.Name)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .WithName("GetClaim")
            .WithSummary("A claim with its JWS, canonical subjects, trust and revocation state.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapGet("/claims/{id}/near-duplicates", NearDuplicates.Get)
            .RequireRateLimiting(ClaimReadRateLimitPolicy.Name)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .WithName("GetNearDuplicates")
            .WithSummary("Other parties' claims that this claim's PDQ or embedding subjects match (the first 256 searched), "
                + "and those whose picture aligned verification found a copy of this claim's (by: aligned), "
                + "each with conflict: true when the two disagree on a category. Any \"n\" still wins in lookups.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapGet("/claims/{id}/fingerprints", ClaimFingerprints.Get)
            .RequireRateLimiting(ClaimReadRateLimitPolicy.Name)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .WithName("GetClaimFingerprints")
            .WithSummary("What the registry found behind each of the claim's url subjects: pending, done (sha256, pdq, quality) "
                + "or failed (error). Derived fingerprints match copies of the image at other URLs; such a match names the URL in derived_from.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapPost("/claims/{id}/revocation", RevokeClaim)
            .RequireRateLimiting(ClaimWriteRateLimitPolicy.Name)
            .WithName("RevokeClaim")
            .WithSummary("Revoke a claim with a JWS signed by the same key: {\"v\":1,\"iat\":…,\"revokes\":\"<claim id>\"}.")
            .Accepts<JwsEnvelope>("application/json", JwsBody.JoseMediaType)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .WithMetadata(new RequestSizeLimitAttribute(JwsBody.MaxRevocationBytes));

        group.MapGet("/parties/{party}/claims", ListPartyClaims)
            .RequireRateLimiting(ClaimReadRateLimitPolicy.Name)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .WithSingleQueryValues()
            .WithName("ListPartyClaims")
            .WithSummary("A party's claims in seq order, paged with ?after=<seq>&limit=<1..500>.");

        return group;
    }

    internal static async Task<Results<Created<ClaimResponse>, Ok<ClaimResponse>, ProblemHttpResult, ValidationProblem>> SubmitClaim(
        HttpRequest request, ClaimVerifier verifier, ClaimWriter log, WriteBudgets budgets, LargeClaimGate largeClaims, RegistryMetrics metrics, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        // A spent writer budget refuses before the body is read, then before the claim is checked.
        if (budgets.PreCheck(request.HttpContext, SubjectCount.AtLeast(request.ContentLength)) is { } spentBeforeBody)
        {
            metrics.ClaimRefused(ProblemCodes.WriteBudgetExceeded);
            return spentBeforeBody.ToProblem(request.HttpContext);
        }

        var (jws, problem) = await JwsBody.ReadAsync(request, cancellationToken);
        if (problem is not null)
        {
            metrics.ClaimRefused(problem.ProblemDetails);
            return problem;
        }

        // Counting the subjects (the payload decoded whole), holding the writer's budget for that
        // many, then the signature and every subject: for a large claim, work for the large-claim
        // gate's threads. The hold is given back unless the charge below takes it over. A request
        // that ends while its check runs stops waiting for it, but the check runs on: it reads no
        // more of the request, and gives back a hold it takes after the request ended (whichever
        // of the two sees the other's mark releases it; a second release does nothing).
        var context = request.HttpContext;
        var writer = budgets.Writer(context);
        WriterHold? hold = null;
        var ended = 0;
        WriteCharge charge;
        VerifiedClaim? claim;
        try
        {
            var checking = largeClaims.TryCheckAsync(jws!.Length, () =>
            {
                // More subjects than a claim may hold is the payload's error (below), not a budget's:
                // a 429 would send the client back with the same claim forever.
                if (SubjectCount.Of(jws) is { } subjects && subjects <= ClaimPayloadValidator.MaxSubjects)
                {
                    var (refusal, reserved) = budgets.Reserve(writer, SubjectCount.Charged(subjects, jws.Length));
                    Interlocked.Exchange(ref hold, reserved);
                    if (Volatile.Read(ref ended) == 1)
                    {
                        reserved?.Release();
                        return (null, null, null);
                    }

                    if (refusal is not null)
                    {
                        return (null, null, refusal);
                    }
                }

                return verifier.TryVerifyClaim(jws, out var verified, out var refused) ? (verified, (ClaimError?)null, (WriteRefusal?)null) : (null, refused, null);
            }, cancellationToken);
            if (checking is null)
            {
                metrics.ClaimRefused(ProblemCodes.Busy);
                context.Response.Headers.RetryAfter = "2";
                return Problems.Create(StatusCodes.Status503ServiceUnavailable, ProblemCodes.Busy,
                    "Large claims are queued for their checks beyond what this instance holds at once; send this one again in 2 s.");
            }

            (claim, var error, var spent) = await checking;
            if (spent is not null)
            {
                metrics.ClaimRefused(ProblemCodes.WriteBudgetExceeded);
                return spent.ToProblem(context);
            }

            if (error is not null)
            {
                metrics.ClaimRefused(error.Code);
                return Rejected(error);
            }

            charge = await budgets.ChargeAsync(context, claim!.Party, SubjectCount.Charged(claim.Subjects.Count, jws.Length), cancellationToken, hold);
        }
        finally
        {
            Interlocked.Exchange(ref ended, 1);
            Volatile.Read(ref hold)?.Release(); // nothing once the charge took it over
        }

        if (charge.Refusal is { } refusal)
        {
            metrics.ClaimRefused(ProblemCodes.WriteBudgetExceeded);
            return refusal.ToProblem(request.HttpContext);
        }

        AppendResult result;
        try
        {
            result = await log.AppendClaimAsync(claim, cancellationToken);
        }
        catch
        {
            charge.Refund?.Invoke(); // nothing was stored
            throw;
        }

        var response = new ClaimResponse(
            result.ClaimId ?? claim!.Id,
            result.Seq,
            claim!.Party,
            result.Trust.ToWire(),
            claim.Subjects.Select(ToResponse).ToList(),
            UsageResponse.From(claim.Usage));
        if (result.Status == AppendStatus.AlreadyExists)
        {
            charge.Refund?.Invoke(); // the same claim again stores nothing
            return TypedResults.Ok(response);
        }

        metrics.ClaimAccepted(claim.Subjects.Count);
        loggers.CreateLogger(typeof(ClaimsEndpoints)).LogInformation(
            "Accepted claim {ClaimId} as seq {Seq} from party {Party} with {SubjectCount} subjects",
            claim.Id, result.Seq, claim.Party, claim.Subjects.Count);
        return TypedResults.Created($"/v1/claims/{claim.Id}", response);
    }

    internal static async Task<Results<Ok<ClaimDetailsResponse>, ProblemHttpResult>> GetClaim(
        string id, ClaimStore store, CancellationToken cancellationToken)
    {
        var (stored, problem) = await store.LoadAsync(id, cancellationToken);
        if (stored is null)
        {
            return problem!;
        }

        var (row, subjects, revocation) = stored;
        return TypedResults.Ok(new ClaimDetailsResponse(
            row.Id,
            row.Seq,
            row.Party,
            row.Trust.ToWire(),
            subjects.Select(ToResponse).ToList(),
            UsageResponse.From(row),
            row.Jws,
            row.RevokedSeq is not null,
            revocation is null ? null : new RevocationInfo(revocation.Id, revocation.Seq, revocation.Iat),
            row.Iat,
            row.Title,
            row.License is null && row.Contact is null ? null : new TermsResponse(row.License, row.Contact)));
    }

    internal static async Task<Results<Created<RevocationResponse>, Ok<RevocationResponse>, ProblemHttpResult, ValidationProblem>> RevokeClaim(
        string id, HttpRequest request, ClaimVerifier verifier, ClaimWriter log, WriteBudgets budgets, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (!ClaimId.IsWellFormed(id))
        {
            return Problems.InvalidClaimId();
        }

        if (budgets.PreCheck(request.HttpContext, 0) is { } spent)
        {
            return spent.ToProblem(request.HttpContext);
        }

        var (jws, problem) = await JwsBody.ReadAsync(request, cancellationToken, revocation: true);
        if (problem is not null)
        {
            return problem;
        }

        if (!verifier.TryVerifyRevocation(jws!, out var revocation, out var error))
        {
            return Rejected(error!);
        }

        if (revocation!.Revokes != id)
        {
            return Problems.Validation(
                new Dictionary<string, string[]> { ["revokes"] = ["revokes must name the claim in the path."] },
                ClaimErrorCodes.InvalidPayload,
                "The revocation payload is not valid.");
        }

        // A revocation costs one claim and no subjects, charged to the same budgets as claims.
        var charge = await budgets.ChargeAsync(request.HttpContext, revocation.Party, 0, cancellationToken);
        if (charge.Refusal is { } refusal)
        {
            return refusal.ToProblem(request.HttpContext);
        }

        AppendResult result;
        try
        {
            result = await log.AppendRevocationAsync(revocation, cancellationToken);
        }
        catch
        {
            charge.Refund?.Invoke();
            throw;
        }

        if (result.Status != AppendStatus.Created)
        {
            charge.Refund?.Invoke(); // nothing new was stored
        }

        var response = new RevocationResponse(result.RevocationId ?? revocation.Id, result.Seq, id, true);
        switch (result.Status)
        {
            case AppendStatus.Created:
                loggers.CreateLogger(typeof(ClaimsEndpoints)).LogInformation("Revoked claim {ClaimId} as seq {Seq}", id, result.Seq);
                return TypedResults.Created($"/v1/claims/{id}", response);
            case AppendStatus.AlreadyExists:
                return TypedResults.Ok(response);
            case AppendStatus.ClaimNotFound:
                return Problems.ClaimNotFound(id);
            case AppendStatus.NotClaimOwner:
                return Problems.Create(StatusCodes.Status403Forbidden, ProblemCodes.NotClaimOwner,
                    "The revocation is signed by another key than the claim; only the claim's signer can revoke it.");
            default:
                var conflict = Problems.Create(StatusCodes.Status409Conflict, ProblemCodes.AlreadyRevoked,
                    $"The claim was already revoked by revocation {result.RevocationId} (seq {result.Seq}).");
                conflict.ProblemDetails.Extensions["revocation"] = result.RevocationId;
                conflict.ProblemDetails.Extensions["seq"] = result.Seq;
                return conflict;
        }
    }

    internal static async Task<Results<Ok<PartyClaimsResponse>, ValidationProblem>> ListPartyClaims(
        string party, ClaimStore store, CancellationToken cancellationToken, long? after = null, int? limit = null)
    {
        var errors = new Dictionary<string, string[]>();
        if (!PartyId.IsWellFormed(party))
        {
            errors["party"] = ["A party id is the 43-character base64url RFC 7638 thumbprint of its key."];
        }

        if (after is < 0)
        {
            errors["after"] = ["after is a seq: 0 or more."];
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
        var rows = await store.ListByPartyAsync(party, after ?? 0, pageSize, cancellationToken);
        var claims = rows.Select(r => new ClaimSummary(r.Id, r.Seq, r.Trust.ToWire(), UsageResponse.From(r), r.SubjectCount, r.RevokedSeq is not null, r.Iat, r.Title)).ToList();
        return TypedResults.Ok(new PartyClaimsResponse(party, claims, rows.Count == pageSize ? rows[^1].Seq : null));
    }

    private static SubjectResponse ToResponse(Subject s)
    {
        if (s.Kind == SubjectKinds.Embedding)
        {
            var (model, vector) = Subject.EmbeddingParts(s.Value);
            return new(s.Kind, vector, null, model);
        }

        return new(s.Kind, s.Value, s.Kind == SubjectKinds.Host ? s.IncludeSubdomains : null);
    }

    private static ValidationProblem Rejected(ClaimError error) =>
        Problems.Validation(error.Errors.ToDictionary(), error.Code, error.Title);
}

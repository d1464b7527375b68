using System.Text.Json.Serialization;
using ConsentRegistry.Api.Auth;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentRegistry.Api.Admin;

public sealed record CreateApiKeyRequest(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("role")] string? Role,
    [property: JsonPropertyName("write_budget")] WriteBudgetRequest? WriteBudget = null);

/// <summary>A key's own write budget (Registry:WriteBudgets:ApiKey when it has none): claims and subjects per hour.</summary>
public sealed record WriteBudgetRequest(
    [property: JsonPropertyName("claims_per_hour")] long? ClaimsPerHour,
    [property: JsonPropertyName("subjects_per_hour")] long? SubjectsPerHour)
{
    public WriteBudget ToBudget() => new(ClaimsPerHour!.Value, SubjectsPerHour!.Value);
}

public sealed class WriteBudgetRequestValidator : AbstractValidator<WriteBudgetRequest>
{
    public const long MaxPerHour = 1_000_000_000;

    public WriteBudgetRequestValidator()
    {
        // WithMessage words the rule before it only: missing and out of range say the same.
        var claims = $"claims_per_hour is a whole number from 1 to {MaxPerHour:N0}.";
        RuleFor(r => r.ClaimsPerHour)
            .NotNull().WithMessage(claims)
            .InclusiveBetween(1, MaxPerHour).WithMessage(claims)
            .OverridePropertyName("claims_per_hour");
        var subjects = $"subjects_per_hour is a whole number from {ClaimPayloadValidator.MaxSubjects:N0} (one claim's most) to {MaxPerHour:N0}.";
        RuleFor(r => r.SubjectsPerHour)
            .NotNull().WithMessage(subjects)
            .InclusiveBetween(ClaimPayloadValidator.MaxSubjects, MaxPerHour).WithMessage(subjects)
            .OverridePropertyName("subjects_per_hour");
    }
}

public sealed class CreateApiKeyRequestValidator : AbstractValidator<CreateApiKeyRequest>
{
    public const int MaxNameLength = 200;

    public CreateApiKeyRequestValidator()
    {
        RuleFor(r => r.Name)
            .NotEmpty().WithMessage("name is required: say who or what the key is for.")
            .MaximumLength(MaxNameLength).WithMessage($"name is at most {MaxNameLength} characters.")
            .Must(n => n is null || !n.Any(char.IsControl)).WithMessage("name must not contain control characters.")
            .OverridePropertyName("name");
        RuleFor(r => r.Role)
            .Must(r => r is null or ApiKeyRoles.Client or ApiKeyRoles.Admin)
            .WithMessage($"role is '{ApiKeyRoles.Client}' (the default) or '{ApiKeyRoles.Admin}'.")
            .OverridePropertyName("role");
        RuleFor(r => r.WriteBudget!).SetValidator(new WriteBudgetRequestValidator()).When(r => r.WriteBudget is not null)
            .OverridePropertyName("write_budget");
    }
}

/// <summary>The key is in this answer only; the registry keeps its hash.</summary>
public sealed record CreateApiKeyResponse(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("key")] string Key,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("write_budget")] WriteBudgetResponse? WriteBudget = null);

public sealed record WriteBudgetResponse(
    [property: JsonPropertyName("claims_per_hour")] long ClaimsPerHour,
    [property: JsonPropertyName("subjects_per_hour")] long SubjectsPerHour)
{
    public static WriteBudgetResponse? From(WriteBudget? budget) => budget is null ? null : new(budget.ClaimsPerHour, budget.SubjectsPerHour);
}

public sealed record ReviewResponse(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("trust")] string Trust,
    [property: JsonPropertyName("seq")] long Seq);

/// <summary>Operator endpoints (DESIGN.md 5.5), for admin API keys and the Entra ID admin app role.</summary>
public static class AdminEndpoints
{
    public static RouteGroupBuilder MapAdmin(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/admin")
            .WithTags("Admin")
            .RequireAuthorization(Policies.Admin)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden);

        group.MapPost("/api-keys", CreateApiKey)
            .WithName("CreateApiKey")
            .WithSummary("Create an API key; the key is shown once.")
            .ProducesValidationProblem()
            .AddEndpointFilter<ValidationFilter<CreateApiKeyRequest>>();

        group.MapGet("/api-keys", ApiKeyAdmin.ListApiKeys)
            .WithSingleQueryValues()
            .WithName("ListApiKeys")
            .WithSummary("Stored API keys in id order, paged with ?after=<id>&limit=<1..500>; never the key or its hash.")
            .ProducesValidationProblem();

        group.MapDelete("/api-keys/{id}", ApiKeyAdmin.RevokeApiKey)
            .WithName("RevokeApiKey")
            .WithSummary("Revoke an API key: refused at once by this instance, within a second by every other. Revoking a revoked key is a no-op.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

        group.MapPut("/api-keys/{id}/write-budget", ApiKeyAdmin.SetWriteBudget)
            .WithName("SetApiKeyWriteBudget")
            .WithSummary("Give a key its own write budget (claims and subjects per hour), e.g. for a platform registering a catalogue.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .AddEndpointFilter<ValidationFilter<WriteBudgetRequest>>();

        group.MapDelete("/api-keys/{id}/write-budget", ApiKeyAdmin.ClearWriteBudget)
            .WithName("ClearApiKeyWriteBudget")
            .WithSummary("Put a key back on the default budget for keys (Registry:WriteBudgets:ApiKey).")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapDelete("/parties/{party}/domains/{host}", DomainAdmin.RemoveDomain)
            .WithName("RemoveDomainVerification")
            .WithSummary("Forget a party's verification of a host and lower the claims it raised back to 'signed', as a lapse does.")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapGet("/conflicts", ConflictAdmin.ListConflicts)
            .WithSingleQueryValues()
            .WithName("ListConflicts")
            .WithSummary("Open conflicts: recorded near-duplicate pairs of two parties' claims in force that disagree on a category, "
                + "oldest first, one per pair of claims, checked again in the matching index (pairs found by aligned verification as recorded); paged with ?after=<id>&limit=<1..500> (a page may hold fewer "
                + "items than its limit: follow next_after until null). For review; lookups still let any \"n\" win.")
            .ProducesValidationProblem();

        group.MapPost("/claims/{id}/review", ReviewClaim)
            .WithName("ReviewClaim")
            .WithSummary("Mark a claim as reviewed by an operator (trust 'reviewed').")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);

        return group;
    }

    internal static async Task<Created<CreateApiKeyResponse>> CreateApiKey(
        CreateApiKeyRequest? request, ApiKeyStore keys, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (info, key) = await keys.CreateAsync(request!.Name!, request.Role ?? ApiKeyRoles.Client, cancellationToken, request.WriteBudget?.ToBudget());
        loggers.CreateLogger(typeof(AdminEndpoints)).LogInformation("Created API key {KeyId} with role {Role}", info.Id, info.Role);
        return TypedResults.Created((string?)null, new CreateApiKeyResponse(info.Id, key, info.Name, info.Role, WriteBudgetResponse.From(info.WriteBudget)));
    }

    internal static async Task<Results<Ok<ReviewResponse>, ProblemHttpResult>> ReviewClaim(
        string id, ClaimWriter log, CancellationToken cancellationToken)
    {
        if (!ClaimId.IsWellFormed(id))
        {
            return Problems.InvalidClaimId();
        }

        var result = await log.SetTrustAsync(id, TrustLevel.Reviewed, "operator review", cancellationToken);
        return result.Status == AppendStatus.ClaimNotFound
            ? Problems.ClaimNotFound(id)
            : TypedResults.Ok(new ReviewResponse(id, TrustLevel.Reviewed.ToWire(), result.Seq));
    }
}

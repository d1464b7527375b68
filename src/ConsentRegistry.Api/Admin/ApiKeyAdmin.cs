using System.Text.Json.Serialization;
using ConsentRegistry.Api.Auth;
using ConsentRegistry.Api.Errors;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentRegistry.Api.Admin;

/// <summary>A stored API key as operators see it: never the key, never its hash. Times are unix seconds.</summary>
public sealed record ApiKeySummary(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("created_at")] long CreatedAt,
    [property: JsonPropertyName("last_used_at")] long? LastUsedAt,
    [property: JsonPropertyName("revoked_at")] long? RevokedAt,
    [property: JsonPropertyName("write_budget")] WriteBudgetResponse? WriteBudget = null);

public sealed record ApiKeyListResponse(
    [property: JsonPropertyName("keys")] IReadOnlyList<ApiKeySummary> Keys,
    [property: JsonPropertyName("next_after")] string? NextAfter);

/// <summary>Listing and revoking API keys (DESIGN.md 5.5).</summary>
internal static class ApiKeyAdmin
{
    private const int DefaultPageSize = 100;

    internal static async Task<Results<Ok<ApiKeyListResponse>, ValidationProblem>> ListApiKeys(
        ApiKeyStore keys, CancellationToken cancellationToken, string? after = null, int? limit = null)
    {
        var errors = new Dictionary<string, string[]>();
        if (after is not null && !IsKeyId(after))
        {
            errors["after"] = ["after is a key id (16 lowercase hexadecimal digits), the next_after of the previous page."];
        }

        if (limit is < 1 or > ApiKeyStore.MaxPageSize)
        {
            errors["limit"] = [$"limit is 1 to {ApiKeyStore.MaxPageSize}."];
        }

        if (errors.Count > 0)
        {
            return Problems.Validation(errors, ProblemCodes.InvalidQuery);
        }

        var pageSize = limit ?? DefaultPageSize;
        var rows = await keys.ListAsync(after ?? "", pageSize, cancellationToken);
        var page = rows.Select(r => new ApiKeySummary(r.Id, r.Name, r.Role, r.CreatedAt, r.LastUsedAt, r.RevokedAt,
            WriteBudgetResponse.From(ApiKeyStore.BudgetOf(r)))).ToList();
        return TypedResults.Ok(new ApiKeyListResponse(page, rows.Count == pageSize ? rows[^1].Id : null));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> RevokeApiKey(
        string id, ApiKeyStore keys, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (id == ApiKeyAuthenticationHandler.BootstrapKeyId)
        {
            return Problems.Create(StatusCodes.Status409Conflict, ProblemCodes.BootstrapKeyNotRevocable,
                "The bootstrap admin key comes from the setting Registry:Auth:AdminKey and is not stored, so it cannot be revoked here: "
                + "change or remove the setting and restart every instance.");
        }

        if (!IsKeyId(id))
        {
            return Problems.Create(StatusCodes.Status400BadRequest, ProblemCodes.InvalidKeyId, "An API key id is 16 lowercase hexadecimal digits.", field: "id");
        }

        switch (await keys.RevokeAsync(id, cancellationToken))
        {
            case ApiKeyRevocation.NotFound:
                return Problems.Create(StatusCodes.Status404NotFound, ProblemCodes.ApiKeyNotFound,
                    $"No stored API key has id {id}. (The bootstrap admin key, Registry:Auth:AdminKey, is not stored: it is changed in configuration.)");
            case ApiKeyRevocation.Revoked:
                loggers.CreateLogger(typeof(ApiKeyAdmin)).LogInformation("Revoked API key {KeyId}", id);
                break;
        }

        return TypedResults.NoContent();
    }

    internal static async Task<Results<Ok<WriteBudgetResponse>, ProblemHttpResult>> SetWriteBudget(
        string id, WriteBudgetRequest? request, ApiKeyStore keys, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (!IsKeyId(id))
        {
            return InvalidKeyId();
        }

        var budget = request!.ToBudget();
        if (!await keys.SetWriteBudgetAsync(id, budget, cancellationToken))
        {
            return KeyNotFound(id);
        }

        loggers.CreateLogger(typeof(ApiKeyAdmin)).LogInformation(
            "Set API key {KeyId}'s write budget to {Claims} claims and {Subjects} subjects an hour", id, budget.ClaimsPerHour, budget.SubjectsPerHour);
        return TypedResults.Ok(WriteBudgetResponse.From(budget)!);
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> ClearWriteBudget(string id, ApiKeyStore keys, CancellationToken cancellationToken)
    {
        if (!IsKeyId(id))
        {
            return InvalidKeyId();
        }

        return await keys.SetWriteBudgetAsync(id, null, cancellationToken) ? TypedResults.NoContent() : KeyNotFound(id);
    }

    private static ProblemHttpResult InvalidKeyId() =>
        Problems.Create(StatusCodes.Status400BadRequest, ProblemCodes.InvalidKeyId, "An API key id is 16 lowercase hexadecimal digits.", field: "id");

    private static ProblemHttpResult KeyNotFound(string id) =>
        Problems.Create(StatusCodes.Status404NotFound, ProblemCodes.ApiKeyNotFound, $"No stored API key has id {id}.");

    private static bool IsKeyId(string id) =>
        id.Length == 16 && id.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');
}

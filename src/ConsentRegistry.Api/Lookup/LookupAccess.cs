using ConsentRegistry.Api.Auth;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Api.Lookup;

/// <summary>
/// Who may call the read side (lookups, policy documents, image hashing) and how often: one rule,
/// applied by <see cref="RequireLookupAccess"/> to each of those groups.
/// </summary>
public static class LookupAccess
{
    public const string RateLimitPolicy = "lookup";

    /// <summary>
    /// The lookup authorization policy (<see cref="Policies.Lookup"/>), the lookup rate limit, and
    /// with <paramref name="needsIndex"/> a 503 until the matching index is built (an answer from
    /// a half-built index would be wrong).
    /// </summary>
    public static RouteGroupBuilder RequireLookupAccess(this RouteGroupBuilder group, bool needsIndex = true)
    {
        group.RequireAuthorization(Policies.Lookup)
            .RequireRateLimiting(RateLimitPolicy)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return needsIndex ? group.AddEndpointFilter(RequireBuiltIndex) : group;
    }

    private static async ValueTask<object?> RequireBuiltIndex(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (context.HttpContext.RequestServices.GetRequiredService<SharedMatchingIndex>().IsReady)
        {
            return await next(context);
        }

        context.HttpContext.Response.Headers.RetryAfter = "1";
        return Problems.Create(StatusCodes.Status503ServiceUnavailable, ProblemCodes.IndexBuilding,
            "The matching index is being built from the store; retry in a moment (GET /health/ready says when).");
    }
}

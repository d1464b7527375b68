using System.Globalization;
using System.Threading.RateLimiting;
using ConsentRegistry.Api.Auth;
using ConsentRegistry.Api.Errors;
using Microsoft.AspNetCore.RateLimiting;

namespace ConsentRegistry.Api.Hosting;

/// <summary>The registry's 429 for every rate-limit policy: Retry-After from the limiter, and problem+json in the policy's words.</summary>
internal static class RateLimitRejections
{
    public static async ValueTask WriteAsync(OnRejectedContext rejected, int fallbackSeconds, Func<int, string> detail)
    {
        var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
            : fallbackSeconds;
        var http = rejected.HttpContext;
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await Problems.Create(StatusCodes.Status429TooManyRequests, ProblemCodes.TooManyRequests, detail(seconds)).ExecuteAsync(http);
    }

    /// <summary>
    /// "key:&lt;API key id&gt;" for a request with an API key, else null (the caller's address is its
    /// partition): one partition per key in every limit. Only a key, which an operator issued, gets
    /// limits of its own: a bearer token is limited as its address, since a multi-tenant
    /// registration lets anyone mint principals, each of which would otherwise bring a fresh bucket
    /// (as the write budgets, <c>WriteBudgets.WriterKey</c>).
    /// </summary>
    public static string? KeyPartition(HttpContext context) =>
        context.Items[typeof(ApiKeyInfo)] is ApiKeyInfo key ? "key:" + key.Id : null;

    /// <summary>A bucket of <paramref name="perSecond"/> tokens a second, twice as deep, no queue.</summary>
    public static RateLimitPartition<string> PerSecond(string partition, int perSecond) =>
        RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = perSecond * 2,
            TokensPerPeriod = perSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
}

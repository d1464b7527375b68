using System.Globalization;
using System.Threading.RateLimiting;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Observability;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// Reads of single claims and of party listings per second per client address (IPv6 per /64):
/// each is a store read, and bulk questions belong on the lookup endpoints.
/// </summary>
internal sealed class ClaimReadRateLimitPolicy(IOptions<WriteBudgetOptions> options, RegistryMetrics metrics) : IRateLimiterPolicy<string>
{
    public const string Name = "claim-reads";

    // A policy's own OnRejected replaces RateLimiterOptions.OnRejected, so it counts the rejection itself.
    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = async (rejected, _) =>
    {
        metrics.RateLimitRejected(Name);
        var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
            : 1;
        var http = rejected.HttpContext;
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await Problems.Create(StatusCodes.Status429TooManyRequests, ProblemCodes.TooManyRequests,
            $"Too many claim reads from this address; retry after {seconds} s. To decide many URLs or hashes, use POST /v1/lookup.").ExecuteAsync(http);
    };

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        var perSecond = options.Value.ReadsPerSecondPerAddress;
        return RateLimitPartition.GetTokenBucketLimiter(ClientAddress.PartitionKey(httpContext.Connection.RemoteIpAddress), _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = perSecond * 2,
            TokensPerPeriod = perSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }
}

internal static class ClaimReadRateLimit
{
    public static IServiceCollection AddClaimReadRateLimit(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure(limiter =>
            limiter.AddPolicy<string, ClaimReadRateLimitPolicy>(ClaimReadRateLimitPolicy.Name));
        return services;
    }
}

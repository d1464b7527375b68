using System.Globalization;
using System.Threading.RateLimiting;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Observability;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Verification;

/// <summary>
/// Verify calls per client per minute: each makes the registry fetch from the internet. Clients are
/// grouped by <see cref="ClientAddress.PartitionKey"/> (IPv6 per /64), so cycling through the
/// addresses of one block buys no extra calls.
/// </summary>
internal sealed class VerificationRateLimitPolicy(IOptions<VerificationOptions> options, RegistryMetrics metrics) : IRateLimiterPolicy<string>
{
    // A policy's own OnRejected replaces RateLimiterOptions.OnRejected, so it counts the rejection itself.
    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = async (rejected, _) =>
    {
        metrics.RateLimitRejected(DomainVerificationEndpoints.RateLimitPolicy);
        var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
            : 60;
        var http = rejected.HttpContext;
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await Problems.Create(StatusCodes.Status429TooManyRequests, ProblemCodes.TooManyRequests,
            $"Too many domain verification requests from this address; retry after {seconds} s. "
            + "A verification only needs to be requested once: the registry re-checks verified hosts by itself.").ExecuteAsync(http);
    };

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        var perMinute = options.Value.RequestsPerMinutePerAddress;
        return RateLimitPartition.GetTokenBucketLimiter(ClientAddress.PartitionKey(httpContext.Connection.RemoteIpAddress), _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = perMinute,
            TokensPerPeriod = perMinute,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }
}

internal static class VerificationRateLimit
{
    public static IServiceCollection AddVerificationRateLimit(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure(limiter =>
            limiter.AddPolicy<string, VerificationRateLimitPolicy>(DomainVerificationEndpoints.RateLimitPolicy));
        return services;
    }
}

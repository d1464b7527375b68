using System.Threading.RateLimiting;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Observability;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Verification;

/// <summary>
/// Verify calls per client per minute: each makes the registry fetch from the internet. Clients are
/// grouped by <see cref="ClientAddress.PartitionKey"/> (IPv6 per <see cref="WriteBudgetOptions.Ipv6PrefixLength"/>),
/// so cycling through the addresses of one block buys no extra calls.
/// </summary>
internal sealed class VerificationRateLimitPolicy(IOptions<VerificationOptions> options, IOptions<WriteBudgetOptions> budgets, RegistryMetrics metrics)
    : IRateLimiterPolicy<string>
{
    // A policy's own OnRejected replaces RateLimiterOptions.OnRejected, so it counts the rejection itself.
    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = (rejected, _) =>
    {
        metrics.RateLimitRejected(DomainVerificationEndpoints.RateLimitPolicy);
        return RateLimitRejections.WriteAsync(rejected, 60,
            seconds => $"Too many domain verification requests from this address; retry after {seconds} s. "
                + "A verification only needs to be requested once: the registry re-checks verified hosts by itself.");
    };

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        var perMinute = options.Value.RequestsPerMinutePerAddress;
        var client = ClientAddress.PartitionKey(httpContext.Connection.RemoteIpAddress, budgets.Value.Ipv6PrefixLength);
        return RateLimitPartition.GetTokenBucketLimiter(client, _ => new TokenBucketRateLimiterOptions
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

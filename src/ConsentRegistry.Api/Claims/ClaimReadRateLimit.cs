using System.Threading.RateLimiting;
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
    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = (rejected, _) =>
    {
        metrics.RateLimitRejected(Name);
        return RateLimitRejections.WriteAsync(rejected, 1,
            seconds => $"Too many claim reads from this address; retry after {seconds} s. To decide many URLs or hashes, use POST /v1/lookup.");
    };

    public RateLimitPartition<string> GetPartition(HttpContext httpContext) =>
        RateLimitRejections.PerSecond(ClientAddress.PartitionKey(httpContext.Connection.RemoteIpAddress), options.Value.ReadsPerSecondPerAddress);
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

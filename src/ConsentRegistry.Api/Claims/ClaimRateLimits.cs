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

/// <summary>
/// Claim and revocation requests per second per writer (API key, else client address with IPv6 per
/// /64), ahead of the write budgets: a request refused here costs no body read, and the connection
/// closes, so a flood of large claims from one client costs the server next to nothing.
/// </summary>
internal sealed class ClaimWriteRateLimitPolicy(IOptions<WriteBudgetOptions> options, RegistryMetrics metrics) : IRateLimiterPolicy<string>
{
    public const string Name = "claim-writes";

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = (rejected, _) =>
    {
        metrics.RateLimitRejected(Name);
        rejected.HttpContext.Response.Headers.Connection = "close";
        return RateLimitRejections.WriteAsync(rejected, 1,
            seconds => $"Too many claim writes from this client; retry after {seconds} s. Put many subjects in one claim (up to 10,000).");
    };

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        var budgets = options.Value;
        if (!budgets.Enabled)
        {
            return RateLimitPartition.GetNoLimiter("off"); // Registry:WriteBudgets:Enabled=false turns every write limit off
        }

        return RateLimitRejections.KeyPartition(httpContext) is { } key
            ? RateLimitRejections.PerSecond(key, budgets.WritesPerSecondPerKey)
            : RateLimitRejections.PerSecond(ClientAddress.PartitionKey(httpContext.Connection.RemoteIpAddress, budgets.Ipv6PrefixLength), budgets.WritesPerSecondPerAddress);
    }
}

internal static class ClaimRateLimits
{
    public static IServiceCollection AddClaimRateLimits(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure(limiter =>
        {
            limiter.AddPolicy<string, ClaimReadRateLimitPolicy>(ClaimReadRateLimitPolicy.Name);
            limiter.AddPolicy<string, ClaimWriteRateLimitPolicy>(ClaimWriteRateLimitPolicy.Name);
        });
        return services;
    }
}

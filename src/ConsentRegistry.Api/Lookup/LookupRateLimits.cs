using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Hosting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Lookup;

/// <summary>
/// Token buckets per API key (or token subject) and per client address (IPv6 per
/// <see cref="WriteBudgetOptions.Ipv6PrefixLength"/>, see <see cref="ClientAddress"/>); 429 with Retry-After when empty.
/// </summary>
public static class LookupRateLimits
{
    public static IServiceCollection AddLookupRateLimits(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<LookupOptions>, IOptions<WriteBudgetOptions>>((limiter, options, budgets) =>
        {
            var lookup = options.Value;
            var ipv6PrefixLength = budgets.Value.Ipv6PrefixLength;
            limiter.AddPolicy(LookupAccess.RateLimitPolicy, context =>
            {
                var (partition, perSecond) = Partition(context, lookup, ipv6PrefixLength);
                return RateLimitRejections.PerSecond(partition, perSecond);
            });
            limiter.OnRejected = (rejected, _) => RateLimitRejections.WriteAsync(rejected, 1,
                seconds => $"Rate limit reached; retry after {seconds} s, or send larger batches.");
        });
        return services;
    }

    /// <summary>The bucket a request draws from and its rate: its API key's, else its client address's (a bearer token's too).</summary>
    internal static (string Key, int PerSecond) Partition(HttpContext context, LookupOptions lookup, int ipv6PrefixLength) =>
        RateLimitRejections.KeyPartition(context) is { } key
            ? (key, lookup.RequestsPerSecondPerKey)
            : (ClientAddress.PartitionKey(context.Connection.RemoteIpAddress, ipv6PrefixLength), lookup.RequestsPerSecondPerAddress);
}

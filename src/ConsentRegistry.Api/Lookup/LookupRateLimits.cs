using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Hosting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Lookup;

/// <summary>Token buckets per API key (or token subject) and per client address (IPv6 per /64, see <see cref="ClientAddress"/>); 429 with Retry-After when empty.</summary>
public static class LookupRateLimits
{
    public static IServiceCollection AddLookupRateLimits(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<LookupOptions>>((limiter, options) =>
        {
            var lookup = options.Value;
            limiter.AddPolicy(LookupAccess.RateLimitPolicy, context =>
            {
                var (partition, perSecond) = Partition(context, lookup);
                return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = perSecond * 2,
                    TokensPerPeriod = perSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            limiter.OnRejected = async (rejected, cancellationToken) =>
            {
                var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
                    ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
                    : 1;
                var http = rejected.HttpContext;
                http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await Problems.Create(StatusCodes.Status429TooManyRequests, ProblemCodes.TooManyRequests,
                    $"Rate limit reached; retry after {seconds} s, or send larger batches.").ExecuteAsync(http);
            };
        });
        return services;
    }

    /// <summary>The bucket a request draws from and its rate: the API key or token subject when signed in, else the client address.</summary>
    internal static (string Key, int PerSecond) Partition(HttpContext context, LookupOptions lookup)
    {
        var user = context.User;
        return user.Identity?.IsAuthenticated == true
            ? ("key:" + (user.FindFirstValue(ClaimTypes.NameIdentifier) ?? user.Identity.Name), lookup.RequestsPerSecondPerKey)
            : (ClientAddress.PartitionKey(context.Connection.RemoteIpAddress), lookup.RequestsPerSecondPerAddress);
    }
}

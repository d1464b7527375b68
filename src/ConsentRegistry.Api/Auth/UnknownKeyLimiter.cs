using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Auth;

/// <summary>
/// Unknown API keys per client address. Authentication runs before every rate limit, and each key
/// the registry has not seen costs a store read and two entries in the shared cache, so a client
/// sending random keys could read the store at will and push other entries out of the cache. An
/// address (IPv6 by prefix, as every per-address limit) that sent
/// <see cref="AuthOptions.UnknownKeysPerMinutePerAddress"/> unknown keys within a minute gets 429
/// for any key this replica did not find valid lately, until its bucket refills; per replica.
/// </summary>
public sealed class UnknownKeyLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter;

    public UnknownKeyLimiter(IOptions<AuthOptions> options)
    {
        var perMinute = options.Value.UnknownKeysPerMinutePerAddress;
        var refill = TimeSpan.FromMinutes(1) / perMinute;
        RetryAfterSeconds = Math.Max(1, (int)Math.Ceiling(refill.TotalSeconds));
        _limiter = PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetTokenBucketLimiter(address, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = perMinute,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = refill,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    /// <summary>When a refused client may try again: the time one more unknown key takes to refill.</summary>
    public int RetryAfterSeconds { get; }

    /// <summary>Whether the address has sent as many unknown keys as it may for now.</summary>
    public bool IsSpent(string address) => _limiter.GetStatistics(address)?.CurrentAvailablePermits is 0;

    /// <summary>Counts one unknown key against the address.</summary>
    public void CountUnknown(string address)
    {
        using var lease = _limiter.AttemptAcquire(address);
    }

    public void Dispose() => _limiter.Dispose();
}

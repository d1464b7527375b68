using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Auth;

/// <summary>
/// API keys this instance has not yet found valid, per client address. Authentication runs before
/// every rate limit, and each such key costs a store read and two entries in the shared cache, so
/// a client sending random keys could read the store at will and push other entries out of the
/// cache. Each one takes a token of its address's bucket (IPv6 by prefix, as every per-address
/// limit; <see cref="AuthOptions.UnknownKeysPerMinutePerAddress"/> a minute) before the store is
/// read, and none left is a 429. A key once found valid here takes none, so a client sharing the
/// address with someone sending bogus keys is not locked out (only a key's first use can be
/// refused, until a token refills). Per instance.
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

    /// <summary>Takes one key's token of the address's bucket before the store is read for it; false when none is left.</summary>
    public bool TryTake(string address)
    {
        using var lease = _limiter.AttemptAcquire(address);
        return lease.IsAcquired;
    }

    public void Dispose() => _limiter.Dispose();
}

using System.Threading.RateLimiting;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Matching;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Lookup;

/// <summary>
/// Paces the image searches of lookups per API key or client address (IPv6 by prefix, as every
/// per-address limit). A URL or SHA-256 item costs about a microsecond, but a PDQ hash is a radius
/// search (about 0.8 ms at 10 million hashes) and an embedding vector a vector-index search: the
/// request rate alone let one anonymous client keep every core busy with 10,000-item PDQ batches.
/// Each PDQ hash and each embedding vector of an item is one search (a PDQ search wider than the
/// registry's default radius counts <see cref="WideSearchCost"/>), drawn from a bucket refilled
/// with <see cref="LookupOptions.ImageSearchesPerSecondPerAddress"/> (or <c>…PerKey</c>) a second.
/// A request short of searches waits for them; when the searches already waiting in its bucket
/// would take <see cref="MaxQueue"/> to refill, it is refused instead (a batch answers 429, a
/// stream waits and asks again). Per instance.
/// </summary>
public sealed class ImageSearchPacing : IDisposable
{
    /// <summary>The <c>policy</c> label of the 429s it causes in <c>registry_rate_limit_rejections_total</c>.</summary>
    public const string PolicyName = "image-searches";

    /// <summary>What a PDQ search above the default radius counts: a radius of 63 checks about 16 times the candidates of 31.</summary>
    public const int WideSearchCost = 16;

    /// <summary>The longest that searches may wait in one bucket; requests past it are refused.</summary>
    public static readonly TimeSpan MaxQueue = TimeSpan.FromSeconds(30);

    private readonly PartitionedRateLimiter<(string Partition, int PerSecond)> _limiter;
    private readonly LookupOptions _lookup;
    private readonly int _ipv6PrefixLength;
    private readonly int _pdqMaxDistance;

    public ImageSearchPacing(IOptions<LookupOptions> lookup, IOptions<WriteBudgetOptions> budgets, IOptions<MatchingOptions> matching)
    {
        _lookup = lookup.Value;
        _ipv6PrefixLength = budgets.Value.Ipv6PrefixLength;
        _pdqMaxDistance = matching.Value.PdqMaxDistance;
        _limiter = PartitionedRateLimiter.Create<(string Partition, int PerSecond), (string, int)>(key =>
            RateLimitPartition.GetTokenBucketLimiter(key, k => new TokenBucketRateLimiterOptions
            {
                TokenLimit = k.Item2,
                TokensPerPeriod = k.Item2,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = (int)Math.Min(int.MaxValue, (long)k.Item2 * (long)MaxQueue.TotalSeconds),
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                AutoReplenishment = true,
            }));
    }

    /// <summary>The searches an item asks for, before it is checked (a malformed field costs as a good one; an item's vectors count up to the most an image has).</summary>
    public int CostOf(in ReadItem read)
    {
        if (read.Item is not { } item)
        {
            return 0;
        }

        var cost = 0;
        if (item.Pdq is not null)
        {
            cost += item.MaxDistance > _pdqMaxDistance ? WideSearchCost : 1;
        }

        if (item.Embeddings is { } embeddings)
        {
            cost += Math.Min(embeddings.Count, EmbeddingModels.MaxVectorsPerImage);
        }

        return cost;
    }

    /// <summary>
    /// Waits until the caller's bucket has given <paramref name="searches"/> (a second's worth at a
    /// time); when its queue is full, returns how many it has not given and when to ask again
    /// (those given are spent).
    /// </summary>
    public async ValueTask<(int Untaken, TimeSpan RetryAfter)> TakeAsync(HttpContext context, int searches, CancellationToken cancellationToken)
    {
        var key = Partition(context);
        while (searches > 0)
        {
            var chunk = Math.Min(searches, key.PerSecond);
            using var lease = await _limiter.AcquireAsync(key, chunk, cancellationToken);
            if (!lease.IsAcquired)
            {
                return (searches, lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1));
            }

            searches -= chunk;
        }

        return (0, TimeSpan.Zero);
    }

    /// <summary>The bucket a request draws from, as for the request rate: its API key or token subject when signed in, else its client address.</summary>
    private (string Partition, int PerSecond) Partition(HttpContext context) =>
        RateLimitRejections.KeyPartition(context) is { } key
            ? (key, _lookup.ImageSearchesPerSecondPerKey)
            : (ClientAddress.PartitionKey(context.Connection.RemoteIpAddress, _ipv6PrefixLength), _lookup.ImageSearchesPerSecondPerAddress);

    public void Dispose() => _limiter.Dispose();
}

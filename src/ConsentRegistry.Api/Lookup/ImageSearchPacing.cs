using System.Threading.RateLimiting;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Core.Embeddings;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Lookup;

/// <summary>
/// Paces the image searches of lookups per API key or client address (IPv6 by prefix, as every
/// per-address limit). A URL or SHA-256 item costs about a microsecond, but a PDQ hash is a radius
/// search (about 0.1 ms at a million hashes, 0.8 ms at 10 million) and an embedding vector a
/// vector-index search: the request rate alone let one anonymous client keep every core busy with
/// 10,000-hash batches. Each PDQ hash and each embedding vector of an item is one search (a search
/// wider than the registry's default, a PDQ radius above it or a similarity below it, counts
/// <see cref="WideSearchCost"/>), taken
/// from a bucket refilled with <see cref="LookupOptions.ImageSearchesPerSecondPerAddress"/> (or
/// <c>…PerKey</c>) a second, run by run as the request is answered, so that the work is spread
/// evenly rather than done in bursts. A request is admitted (<see cref="TryAdmit"/>) unless its
/// client's admitted searches not yet taken, its own included, would take longer than
/// <see cref="MaxQueue"/> to refill: that bounds the requests that wait, and the memory they hold.
/// Per instance.
/// </summary>
public sealed class ImageSearchPacing : IDisposable
{
    /// <summary>The <c>policy</c> label of the 429s it causes in <c>registry_rate_limit_rejections_total</c>.</summary>
    public const string PolicyName = "image-searches";

    /// <summary>What a search wider than the default counts: a PDQ radius of 63 checks about 16 times the candidates of 31.</summary>
    public const int WideSearchCost = 16;

    /// <summary>How long a client's admitted searches may take to refill before its next request is refused.</summary>
    public static readonly TimeSpan MaxQueue = TimeSpan.FromSeconds(30);

    private readonly PartitionedRateLimiter<(string Partition, int PerSecond)> _limiter;
    private readonly Dictionary<string, long> _outstanding = new(StringComparer.Ordinal);
    private readonly LookupOptions _lookup;
    private readonly int _ipv6PrefixLength;
    private readonly int _pdqMaxDistance;
    private readonly double _embeddingMinSimilarity;

    public ImageSearchPacing(IOptions<LookupOptions> lookup, IOptions<WriteBudgetOptions> budgets, IOptions<MatchingOptions> matching)
    {
        _lookup = lookup.Value;
        _ipv6PrefixLength = budgets.Value.Ipv6PrefixLength;
        _pdqMaxDistance = matching.Value.PdqMaxDistance;
        _embeddingMinSimilarity = matching.Value.EmbeddingMinSimilarity;
        // Admission bounds what waits; the limiter's own queue only orders it.
        _limiter = PartitionedRateLimiter.Create<(string Partition, int PerSecond), (string, int)>(key =>
            RateLimitPartition.GetTokenBucketLimiter(key, k => new TokenBucketRateLimiterOptions
            {
                TokenLimit = k.Item2,
                TokensPerPeriod = k.Item2,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = int.MaxValue,
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
            // Below the default similarity, each vector's search checks many more candidates (at 0.5, thousands).
            var each = item.MinSimilarity < _embeddingMinSimilarity ? WideSearchCost : 1;
            cost += Math.Min(embeddings.Count, EmbeddingModels.MaxVectorsPerImage) * each;
        }

        return cost;
    }

    /// <summary>The searches of <paramref name="items"/>.</summary>
    public int CostOf(ReadOnlySpan<ReadItem> items)
    {
        var cost = 0;
        foreach (var item in items)
        {
            cost += CostOf(item);
        }

        return cost;
    }

    /// <summary>
    /// Whether <see cref="TryAdmit"/> would refuse even a request of one search: asked before a
    /// batch's body is read, so that a client sending past its pace does not have each body read
    /// and parsed only to be refused.
    /// </summary>
    public bool IsSaturated(HttpContext context, out TimeSpan retryAfter)
    {
        var key = Partition(context);
        long outstanding;
        lock (_outstanding)
        {
            outstanding = _outstanding.GetValueOrDefault(key.Partition);
        }

        return Refuses(key, outstanding, 1, out retryAfter);
    }

    private static bool Refuses((string Partition, int PerSecond) key, long outstanding, long asking, out TimeSpan retryAfter)
    {
        var limit = (long)(key.PerSecond * MaxQueue.TotalSeconds);
        var refused = outstanding > 0 && outstanding + asking > limit;
        retryAfter = refused ? TimeSpan.FromSeconds(Math.Ceiling((double)(outstanding + asking - limit) / key.PerSecond)) : TimeSpan.Zero;
        return refused;
    }

    /// <summary>
    /// Admits a request that will ask for <paramref name="searches"/> (a stream: 0, its runs add
    /// theirs as they come), unless its client already has more admitted than the bucket refills in
    /// <see cref="MaxQueue"/> (a request alone is always admitted, however large); then
    /// <paramref name="retryAfter"/> says when that will have drained.
    /// </summary>
    public bool TryAdmit(HttpContext context, int searches, out Ticket ticket, out TimeSpan retryAfter)
    {
        var key = Partition(context);
        lock (_outstanding)
        {
            // A stream is admitted as if it brought one search: it may bring many.
            var outstanding = _outstanding.GetValueOrDefault(key.Partition);
            if (Refuses(key, outstanding, Math.Max(searches, 1), out retryAfter))
            {
                ticket = null!;
                return false;
            }

            _outstanding[key.Partition] = outstanding + searches;
        }

        ticket = new Ticket(this, key, searches);
        return true;
    }

    private void Release(string partition, long searches)
    {
        if (searches == 0)
        {
            return;
        }

        lock (_outstanding)
        {
            var left = _outstanding.GetValueOrDefault(partition) - searches;
            if (left > 0)
            {
                _outstanding[partition] = left;
            }
            else
            {
                _outstanding.Remove(partition);
            }
        }
    }

    private void Add(string partition, long searches)
    {
        lock (_outstanding)
        {
            _outstanding[partition] = _outstanding.GetValueOrDefault(partition) + searches;
        }
    }

    /// <summary>The bucket a request draws from, as for the request rate: its API key or token subject when signed in, else its client address.</summary>
    private (string Partition, int PerSecond) Partition(HttpContext context) =>
        RateLimitRejections.KeyPartition(context) is { } key
            ? (key, _lookup.ImageSearchesPerSecondPerKey)
            : (ClientAddress.PartitionKey(context.Connection.RemoteIpAddress, _ipv6PrefixLength), _lookup.ImageSearchesPerSecondPerAddress);

    public void Dispose() => _limiter.Dispose();

    /// <summary>An admitted request's searches: taken run by run; what is left when it ends is given back to the admission count.</summary>
    public sealed class Ticket : IDisposable
    {
        private readonly ImageSearchPacing _pacing;
        private readonly (string Partition, int PerSecond) _key;
        private long _admitted;

        internal Ticket(ImageSearchPacing pacing, (string Partition, int PerSecond) key, long admitted)
        {
            _pacing = pacing;
            _key = key;
            _admitted = admitted;
        }

        /// <summary>
        /// Waits until the bucket has given <paramref name="searches"/>, a second's worth at a time;
        /// <paramref name="beforeWaiting"/> runs once if it has to wait (to send the answers written so far).
        /// Searches past those admitted (a stream's next run) are admitted first.
        /// </summary>
        public async ValueTask TakeAsync(int searches, Func<ValueTask> beforeWaiting, CancellationToken cancellationToken)
        {
            if (searches > _admitted)
            {
                _pacing.Add(_key.Partition, searches - _admitted);
                _admitted = searches;
            }

            var waited = false;
            while (searches > 0)
            {
                var chunk = Math.Min(searches, _key.PerSecond);
                var lease = _pacing._limiter.AttemptAcquire(_key, chunk);
                if (!lease.IsAcquired)
                {
                    lease.Dispose();
                    if (!waited)
                    {
                        waited = true;
                        await beforeWaiting();
                    }

                    lease = await _pacing._limiter.AcquireAsync(_key, chunk, cancellationToken);
                }

                using (lease)
                {
                    if (!lease.IsAcquired)
                    {
                        throw new InvalidOperationException("The image-search bucket refused a wait its admission allowed.");
                    }
                }

                searches -= chunk;
                _admitted -= chunk;
                _pacing.Release(_key.Partition, chunk);
            }
        }

        public void Dispose()
        {
            _pacing.Release(_key.Partition, _admitted);
            _admitted = 0;
        }
    }
}

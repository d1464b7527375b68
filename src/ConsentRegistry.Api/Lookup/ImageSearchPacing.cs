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
/// <see cref="WideSearchCost"/>), taken from a bucket refilled with
/// <see cref="LookupOptions.ImageSearchesPerSecondPerAddress"/> (or <c>…PerKey</c>) a second, run by
/// run as the request is answered, so that the work is spread evenly rather than done in bursts. A request is admitted (<see cref="TryAdmit"/>) unless its
/// client's admitted searches not yet taken, its own included, would take longer than
/// <see cref="MaxQueue"/> to refill, or <see cref="MaxWaitingRequests"/> of its requests wait
/// already: that bounds the time and the memory (parsed bodies) that waiting holds. Per instance.
/// </summary>
public sealed class ImageSearchPacing : IDisposable
{
    /// <summary>The <c>policy</c> label of the 429s it causes in <c>registry_rate_limit_rejections_total</c>.</summary>
    public const string PolicyName = "image-searches";

    /// <summary>What a search wider than the default counts: a PDQ radius of 63 checks about 16 times the candidates of 31.</summary>
    public const int WideSearchCost = 16;

    /// <summary>How long a client's admitted searches may take to refill before its next request is refused.</summary>
    public static readonly TimeSpan MaxQueue = TimeSpan.FromSeconds(30);

    /// <summary>Requests of one client that may wait for searches at once (a batch waits holding its parsed body, up to 16 MB).</summary>
    public const int MaxWaitingRequests = 4;

    /// <summary>
    /// How long a refusal waits before it is answered when its client was refused already within the
    /// second (a timer, no work): a client that resends as soon as it is answered slows to about one
    /// refusal a second per connection, instead of costing the server a request for each.
    /// </summary>
    public static readonly TimeSpan RepeatedRefusalDelay = TimeSpan.FromSeconds(1);

    private readonly PartitionedRateLimiter<(string Partition, int PerSecond)> _limiter;

    /// <summary>Refusals answered at once per client: one a second, two at once.</summary>
    private readonly PartitionedRateLimiter<string> _promptRefusals =
        PartitionedRateLimiter.Create<string, string>(partition => RateLimitRejections.PerSecond(partition, 1));

    /// <summary>Per partition with searches admitted and not yet taken: how many, and of how many requests.</summary>
    private readonly Dictionary<string, Waiting> _partitions = new(StringComparer.Ordinal);
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

    /// <summary>
    /// The searches an item will make, counted as the engine makes them: a PDQ hash one (wider than
    /// the default radius, <see cref="WideSearchCost"/>), each embedding vector one (below the
    /// default similarity, <see cref="WideSearchCost"/>). Items the engine refuses for its
    /// per-request caps (more than <see cref="LookupEngine.MaxEmbeddingVectorsPerRequest"/> vectors,
    /// more than <see cref="LookupEngine.MaxWidePdqSearchesPerRequest"/> wide PDQ searches) or for
    /// their number of vectors cost none; <paramref name="request"/> keeps the request's counts.
    /// </summary>
    public int CostOf(in ReadItem read, ref RequestSearches request)
    {
        if (read.Item is not { } item)
        {
            return 0;
        }

        var widePdq = item.MaxDistance > _pdqMaxDistance;
        var pdq = item.Pdq is not null && (!widePdq || request.WidePdq++ < LookupEngine.MaxWidePdqSearchesPerRequest);
        var vectors = item.Embeddings is { Count: > 0 and <= EmbeddingModels.MaxVectorsPerImage } embeddings
            && request.Vectors + embeddings.Count <= LookupEngine.MaxEmbeddingVectorsPerRequest
                ? embeddings.Count
                : 0;
        request.Vectors += vectors;
        return SearchCost(pdq, widePdq, vectors, item.MinSimilarity < _embeddingMinSimilarity);
    }

    /// <summary>
    /// A PDQ search costs one, or <see cref="WideSearchCost"/> past the default radius; each vector one, or
    /// <see cref="WideSearchCost"/> below the default similarity (at 0.5 it checks thousands of candidates).
    /// </summary>
    private static int SearchCost(bool pdq, bool widePdq, int vectors, bool wideVectors) =>
        (pdq ? (widePdq ? WideSearchCost : 1) : 0) + (vectors * (wideVectors ? WideSearchCost : 1));

    /// <summary>The searches of <paramref name="items"/>, the next items of a request.</summary>
    public int CostOf(ReadOnlySpan<ReadItem> items, ref RequestSearches request)
    {
        var cost = 0;
        foreach (var item in items)
        {
            cost += CostOf(item, ref request);
        }

        return cost;
    }

    /// <summary>
    /// The searches of the run the engine prepared in <paramref name="buffers"/>, the items it accepted only,
    /// counted as <see cref="CostOf(in ReadItem, ref RequestSearches)"/> counts them. What a run takes from
    /// the bucket: an item the engine refuses for any reason (a bad url beside its vectors, say) costs
    /// nothing, and does not use up the request's allowance of vectors or wide searches in the reckoning
    /// while the engine still runs them (the estimate from the items as read can be off both ways).
    /// </summary>
    internal int CostOfPrepared(LookupBuffers buffers)
    {
        var cost = 0;
        foreach (ref readonly var prepared in buffers.Run.AsSpan(0, buffers.RunCount))
        {
            if (prepared.Error is not null)
            {
                continue;
            }

            // The engine holds thresholds as float: the default compared in double would make 0.95
            // (0.9499999881 as a float) a wide search.
            var query = prepared.Embeddings;
            cost += SearchCost(prepared.Pdq is not null, prepared.MaxDistance > _pdqMaxDistance, query?.Vectors.Count ?? 0,
                query is not null && query.MinSimilarity < (float)_embeddingMinSimilarity);
        }

        return cost;
    }

    /// <summary>
    /// Whether <see cref="TryAdmit"/> would refuse even a request of one search: asked before a
    /// batch's body is read, so that a client sending past its pace does not have each body parsed
    /// only to be refused.
    /// </summary>
    public bool IsSaturated(HttpContext context, out TimeSpan retryAfter)
    {
        var key = Partition(context);
        lock (_partitions)
        {
            return Refuses(key, _partitions.GetValueOrDefault(key.Partition), 1, out retryAfter);
        }
    }

    /// <summary>
    /// Refused: its client has <see cref="MaxWaitingRequests"/> requests waiting already (each holds
    /// its parsed body), or searches admitted and not yet taken that, with its own, would take longer
    /// than <see cref="MaxQueue"/> to refill. A request alone is admitted however large; one larger
    /// than the window is told to come back when the searches before it are taken.
    /// </summary>
    private static bool Refuses((string Partition, int PerSecond) key, Waiting? waiting, long asking, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (waiting is not { Searches: > 0 } client)
        {
            return false;
        }

        var limit = (long)(key.PerSecond * MaxQueue.TotalSeconds);
        if (client.Requests < MaxWaitingRequests && client.Searches + asking <= limit)
        {
            return false;
        }

        var over = asking > limit || client.Requests >= MaxWaitingRequests ? client.Searches : client.Searches + asking - limit;
        retryAfter = TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling((double)over / key.PerSecond)));
        return true;
    }

    /// <summary>
    /// Admits a request that will ask for <paramref name="searches"/> (a stream: 0, its runs add
    /// theirs as they come) unless <see cref="Refuses"/> says no; then <paramref name="retryAfter"/>
    /// says when the searches waiting before it will have been taken.
    /// </summary>
    public bool TryAdmit(HttpContext context, int searches, out Ticket ticket, out TimeSpan retryAfter)
    {
        var key = Partition(context);
        lock (_partitions)
        {
            // A stream is admitted as if it brought one search: it may bring many.
            if (Refuses(key, _partitions.GetValueOrDefault(key.Partition), Math.Max(searches, 1), out retryAfter))
            {
                ticket = null!;
                return false;
            }

            // Counted before the lock is let go: requests checked at once cannot all pass one check.
            ticket = new Ticket(this, key);
            ticket.Admit(searches);
            return true;
        }
    }

    /// <summary>
    /// Whether a refusal of this client's request should wait <see cref="RepeatedRefusalDelay"/> before it is
    /// answered: its first refusals in a second are answered at once, later ones wait. The answer is the same
    /// 429 either way, on a connection left open, so a client just past its pace still reads it.
    /// </summary>
    public bool DelaysRefusal(HttpContext context)
    {
        using var prompt = _promptRefusals.AttemptAcquire(Partition(context).Partition);
        return !prompt.IsAcquired;
    }

    /// <summary>The searches admitted and not yet taken in <paramref name="partition"/> (for tests).</summary>
    internal long WaitingSearches(string partition)
    {
        lock (_partitions)
        {
            return _partitions.GetValueOrDefault(partition)?.Searches ?? 0;
        }
    }

    /// <summary>The requests in <paramref name="partition"/> with searches admitted and not yet taken (for tests).</summary>
    internal int WaitingRequests(string partition)
    {
        lock (_partitions)
        {
            return _partitions.GetValueOrDefault(partition)?.Requests ?? 0;
        }
    }

    /// <summary>Moves a request's searches admitted and not yet taken by <paramref name="change"/>; <paramref name="before"/> is what it had.</summary>
    private void Move(string partition, long before, long change)
    {
        if (change == 0)
        {
            return;
        }

        lock (_partitions)
        {
            if (!_partitions.TryGetValue(partition, out var waiting))
            {
                waiting = new Waiting();
                _partitions[partition] = waiting;
            }

            var after = before + change;
            waiting.Searches += change;
            waiting.Requests += (before, after) switch
            {
                (0, > 0) => 1,
                ( > 0, 0) => -1,
                _ => 0,
            };
            if (waiting.Searches <= 0 && waiting.Requests <= 0)
            {
                _partitions.Remove(partition);
            }
        }
    }

    /// <summary>The bucket a request draws from, as for the request rate: its API key's, else its client address's (a bearer token's too).</summary>
    private (string Partition, int PerSecond) Partition(HttpContext context) =>
        RateLimitRejections.KeyPartition(context) is { } key
            ? (key, _lookup.ImageSearchesPerSecondPerKey)
            : (ClientAddress.PartitionKey(context.Connection.RemoteIpAddress, _ipv6PrefixLength), _lookup.ImageSearchesPerSecondPerAddress);

    public void Dispose()
    {
        _limiter.Dispose();
        _promptRefusals.Dispose();
    }

    /// <summary>A partition's searches admitted and not yet taken, and the requests they belong to.</summary>
    private sealed class Waiting
    {
        public long Searches { get; set; }

        public int Requests { get; set; }
    }

    /// <summary>An admitted request's searches: taken run by run; what is left when it ends is given back to the admission count.</summary>
    public sealed class Ticket : IDisposable
    {
        private readonly ImageSearchPacing _pacing;
        private readonly (string Partition, int PerSecond) _key;
        private long _admitted;

        internal Ticket(ImageSearchPacing pacing, (string Partition, int PerSecond) key)
        {
            _pacing = pacing;
            _key = key;
        }

        internal void Admit(long searches)
        {
            _pacing.Move(_key.Partition, _admitted, searches);
            _admitted += searches;
        }

        /// <summary>
        /// Admits a stream's next run of <paramref name="searches"/> as <see cref="TryAdmit"/> admits a
        /// request: not while its client's other requests hold <see cref="MaxWaitingRequests"/> places,
        /// or searches that with these would take longer than <see cref="MaxQueue"/>. Streams admitted
        /// at once (each brought no search yet) would otherwise all wait, each holding its connection's
        /// unread lines; a refused run's image items are answered with an error, the stream goes on.
        /// A run alone (nothing else of its client waiting) is always admitted.
        /// </summary>
        public bool TryAdmitRun(int searches, out TimeSpan retryAfter)
        {
            retryAfter = TimeSpan.Zero;
            if (searches <= _admitted)
            {
                return true;
            }

            lock (_pacing._partitions)
            {
                var waiting = _pacing._partitions.GetValueOrDefault(_key.Partition);
                var others = waiting is null ? null : new Waiting
                {
                    Searches = waiting.Searches - _admitted,
                    Requests = waiting.Requests - (_admitted > 0 ? 1 : 0),
                };
                if (Refuses(_key, others, searches - _admitted, out retryAfter))
                {
                    return false;
                }

                Admit(searches - _admitted);
                return true;
            }
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
                Admit(searches - _admitted);
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
                _pacing.Move(_key.Partition, _admitted, -chunk);
                _admitted -= chunk;
            }
        }

        public void Dispose()
        {
            _pacing.Move(_key.Partition, _admitted, -_admitted);
            _admitted = 0;
        }
    }
}

/// <summary>What a request's items have brought so far toward the engine's per-request caps (<see cref="ImageSearchPacing.CostOf(in ReadItem, ref RequestSearches)"/>).</summary>
public struct RequestSearches
{
    internal int Vectors;
    internal int WidePdq;
}

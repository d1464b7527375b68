using System.Diagnostics;
using System.Text.Json;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Pdq;
using ConsentRegistry.Core.Urls;
using Microsoft.Extensions.Options;
using ConsentRegistry.Api.Errors;

namespace ConsentRegistry.Api.Lookup;

/// <summary>Validates one item, resolves it against the matching index and writes its result object.</summary>
public sealed class LookupEngine(
    SharedMatchingIndex index, IOptions<TrustOptions> trust, IOptions<MatchingOptions> matching, EmbeddingModels embeddingModels, RegistryMetrics metrics)
{
    private readonly TrustLevel _minTrustForGrants = trust.Value.MinTrust;
    private readonly int _pdqMaxDistance = matching.Value.PdqMaxDistance;
    private readonly float _embeddingMinSimilarity = (float)matching.Value.EmbeddingMinSimilarity;

    public long Seq => index.AppliedSeq;

    /// <summary>Registry:Trust:MinTrustForGrants: the trust at which a consent ("y") counts.</summary>
    public TrustLevel MinTrustForGrants => _minTrustForGrants;

    /// <summary>
    /// Items checked together and then looked up in order (<see cref="Prepare"/>, <see cref="WriteResult"/>):
    /// each lookup asks for the index's cache lines of the lookups after it, so that the cache misses
    /// of a large index overlap (<see cref="MatchingIndex.PrefetchAhead"/>). A run's results are
    /// written before the next run is read, so a stream's answers do not wait for more lines.
    /// </summary>
    public const int RunLength = 64;

    /// <summary>Checks up to <see cref="RunLength"/> items and keeps them in <paramref name="buffers"/> for <see cref="WriteResult"/>.</summary>
    public void Prepare(ReadOnlySpan<ReadItem> items, LookupBuffers buffers)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(items.Length, RunLength);
        buffers.RunCount = items.Length;
        for (var i = 0; i < items.Length; i++)
        {
            ref var prepared = ref buffers.Run[i];
            buffers.Probes[i] = default;
            var (item, error) = items[i];
            if (error is null && TryPrepare(item, buffers, out prepared, out var url, out error))
            {
                buffers.Probes[i] = url is { } u ? new UrlProbe(u) : default;
            }
            else
            {
                prepared = new PreparedItem { Item = item, Error = error };
            }
        }
    }

    /// <summary>
    /// Makes <paramref name="error"/> the answer of every prepared item of the run that would search by
    /// PDQ or embedding, and gives back what they took of the request's caps (vectors, wide searches):
    /// the items are sent again later, and must not find those used up.
    /// </summary>
    internal void RefuseImageSearches(LookupBuffers buffers, LookupError error)
    {
        foreach (ref var prepared in buffers.Run.AsSpan(0, buffers.RunCount))
        {
            if (prepared.Error is null && (prepared.Pdq is not null || prepared.Embeddings is not null))
            {
                prepared.Error = error;
                buffers.EmbeddingVectors -= prepared.Embeddings?.Vectors.Count ?? 0;
                buffers.WidePdqSearches -= prepared.Pdq is not null && prepared.MaxDistance > _pdqMaxDistance ? 1 : 0;
            }
        }
    }

    /// <summary>Resolves the prepared item <paramref name="at"/> and writes <c>{"decision":…,"matches":[…]}</c> or <c>{"error":…}</c>.</summary>
    public void WriteResult(Utf8JsonWriter json, int at, long? lineNumber, LookupBuffers buffers)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(at, buffers.RunCount);
        json.WriteStartObject();
        if (lineNumber is { } i)
        {
            json.WriteNumber("i", i);
        }

        ref readonly var prepared = ref buffers.Run[at];
        if (prepared.Error is { } error)
        {
            buffers.CountError();
            WriteError(json, error);
        }
        else
        {
            var decision = Resolve(prepared, at, buffers);
            buffers.Count(matched: buffers.Resolved.Count > 0);
            WriteDecision(json, decision, buffers.Resolved, buffers.More);
            if (prepared.Item!.Quality < PdqQuality.Reliable)
            {
                json.WriteBoolean("low_quality", true);
            }
        }

        json.WriteEndObject();
    }

    /// <summary>
    /// The train-ai permission of each URL (Spawning's optOut/optIn), looked up in runs as
    /// <see cref="Prepare"/>'s items are; unknown for a URL that is not http(s).
    /// </summary>
    public void TrainAi(IReadOnlyList<string> urls, Span<Permission> trainAi, LookupBuffers buffers)
    {
        var probes = buffers.Probes;
        for (var start = 0; start < urls.Count; start += RunLength)
        {
            var count = Math.Min(RunLength, urls.Count - start);
            for (var i = 0; i < count; i++)
            {
                probes[i] = UrlCanonicalizer.TryCanonicalize(urls[start + i], out var canonical, out _) ? new UrlProbe(canonical) : default;
            }

            for (var i = 0; i < count; i++)
            {
                if (probes[i].IsEmpty)
                {
                    buffers.CountError();
                    trainAi[start + i] = Permission.Unknown;
                    continue;
                }

                using var scope = index.Read();
                scope.Index.PrefetchAhead(probes.AsSpan(0, count), i);
                trainAi[start + i] = scope.Index.Decide(probes[i], _minTrustForGrants, out var deciding).TrainAi;
                buffers.Count(matched: deciding > 0);
            }
        }
    }

    /// <summary>Resolves one canonical URL; <see cref="LookupBuffers"/> receives the deciding claims, as for a lookup item.</summary>
    public Decision Resolve(in CanonicalUrl url, LookupBuffers buffers)
    {
        using var scope = index.Read();
        var decision = scope.Index.Lookup(url, null, _minTrustForGrants, buffers.Matches, out var more);
        ResolveMatches(scope.Index, buffers, more);
        buffers.Count(matched: buffers.Matches.Count > 0);
        return decision;
    }

    /// <summary>Writes <c>{"i":…,"error":…}</c> for a line that could not be read at all.</summary>
    public static void WriteInvalid(Utf8JsonWriter json, LookupError error, long? lineNumber, LookupBuffers buffers)
    {
        buffers.CountError();
        json.WriteStartObject();
        if (lineNumber is { } i)
        {
            json.WriteNumber("i", i);
        }

        WriteError(json, error);
        json.WriteEndObject();
    }

    internal static readonly LookupError InvalidPdq =
        new("invalid-pdq", "pdq", "A pdq hash is 64 hexadecimal digits (256 bits), as POST /v1/images gives it.");

    internal static readonly LookupError InvalidMaxDistance = new("invalid-max-distance", "max_distance",
        $"max_distance is an integer from 0 to {PdqIndex.MaxProbedRadius}, sent with a pdq hash.");

    /// <summary>Items one lookup request (a batch or a stream) may send with a max_distance above the registry's default.</summary>
    public const int MaxWidePdqSearchesPerRequest = 256;

    private static readonly LookupError TooManyWidePdqSearches = new("too-many-wide-pdq", "max_distance",
        $"A request brings at most {MaxWidePdqSearchesPerRequest} items with a max_distance above the registry's default; send the others in another request.");

    internal static readonly LookupError InvalidQuality =
        new("invalid-quality", "quality", "quality is an integer from 0 to 100, as POST /v1/images gives it.");

    internal const string InvalidEmbeddingCode = "invalid-embedding";

    /// <summary>Embedding vectors one lookup request (a batch or a stream) may bring in all.</summary>
    public const int MaxEmbeddingVectorsPerRequest = 256;

    private static readonly LookupError TooManyEmbeddings = new("too-many-embeddings", "embeddings",
        $"A request brings at most {MaxEmbeddingVectorsPerRequest} embedding vectors in all; send the other items in another request.");

    internal static readonly LookupError EmbeddingModelUnavailable = new("embedding-model-unavailable", "embeddings",
        "The registry cannot compare embeddings now: its model is not loaded (GET /health/ready says why). Retry later, or send the item without embeddings.");

    internal static readonly LookupError InvalidMinSimilarity = new("invalid-min-similarity", "min_similarity",
        "min_similarity is a number from 0.5 to 1, sent with embeddings.");

    public static void WriteError(Utf8JsonWriter json, LookupError error)
    {
        json.WriteStartObject("error");
        json.WriteString("code", error.Code);
        if (error.Field is not null)
        {
            json.WriteString("field", error.Field);
        }

        json.WriteString("detail", error.Detail);
        json.WriteEndObject();
    }

    /// <summary>Checks an item's fields; <paramref name="url"/> is its canonical URL, if it has one.</summary>
    private bool TryPrepare(LookupItem? item, LookupBuffers buffers, out PreparedItem prepared, out CanonicalUrl? url, out LookupError error)
    {
        prepared = default;
        url = null;
        error = null!;
        if (item is null || (item.Url is null && item.Sha256 is null && item.Pdq is null && item.Embeddings is null))
        {
            error = new LookupError("invalid-item", null, "An item names a url, a sha256, a pdq hash or embeddings.");
            return false;
        }

        if (item.Url is not null)
        {
            if (!UrlCanonicalizer.TryCanonicalize(item.Url, out var canonical, out var urlError))
            {
                error = new LookupError(ProblemCodes.InvalidUrl, "url", urlError);
                return false;
            }

            url = canonical;
        }

        string? sha256 = null;
        if (item.Sha256 is not null)
        {
            if (!Subject.TryCreate(SubjectKinds.Sha256, item.Sha256, null, out var subject, out var shaError))
            {
                error = new LookupError("invalid-sha256", "sha256", shaError!);
                return false;
            }

            sha256 = subject!.Value;
        }

        if (!TryReadPdq(item, buffers, out var pdq, out var maxDistance, out error) || !TryReadEmbeddings(item, buffers, out var embeddings, out error))
        {
            return false;
        }

        prepared = new PreparedItem { Item = item, Sha256 = sha256, Pdq = pdq, MaxDistance = maxDistance, Embeddings = embeddings };
        return true;
    }

    private Decision Resolve(in PreparedItem prepared, int at, LookupBuffers buffers)
    {
        var started = Stopwatch.GetTimestamp();
        Decision decision;
        using (var scope = index.Read())
        {
            var probes = buffers.Probes.AsSpan(0, buffers.RunCount);
            scope.Index.PrefetchAhead(probes, at);
            decision = scope.Index.Lookup(probes[at], prepared.Sha256, _minTrustForGrants, buffers.Matches, out var more,
                prepared.Pdq, prepared.MaxDistance, prepared.Embeddings);
            ResolveMatches(scope.Index, buffers, more);
        }

        if (prepared.Pdq is not null)
        {
            metrics.PdqSearched(Stopwatch.GetElapsedTime(started));
        }

        return decision;
    }

    /// <summary>Claim ids and trust are read while the lock is held: the writer may change trust afterwards.</summary>
    private static void ResolveMatches(MatchingIndex index, LookupBuffers buffers, int more)
    {
        buffers.Resolved.Clear();
        buffers.More = more;
        foreach (var match in buffers.Matches)
        {
            var claim = index.Claim(match.Claim);
            buffers.Resolved.Add(new ResolvedMatch(claim.Key, match.By, claim.Trust, match.Distance, match.Similarity, index.DerivedFrom(match.Claim)));
        }
    }

    private bool TryReadPdq(LookupItem item, LookupBuffers buffers, out PdqHash? pdq, out int maxDistance, out LookupError error)
    {
        pdq = null;
        maxDistance = _pdqMaxDistance;
        error = null!;
        if (item.Pdq is not null)
        {
            if (!PdqHash.TryParseHex(item.Pdq, out var hash))
            {
                error = InvalidPdq;
                return false;
            }

            pdq = hash;
        }

        if (item.MaxDistance is { } distance)
        {
            if (item.Pdq is null || distance is < 0 or > PdqIndex.MaxProbedRadius)
            {
                error = InvalidMaxDistance;
                return false;
            }

            // A search wider than the default checks many more candidates (a radius of 63 scans the
            // large segments: 16 times the work of 31 at a million hashes), so a request's are bounded.
            if (distance > _pdqMaxDistance)
            {
                if (buffers.WidePdqSearches == MaxWidePdqSearchesPerRequest)
                {
                    error = TooManyWidePdqSearches;
                    return false;
                }

                buffers.WidePdqSearches++;
            }

            maxDistance = distance;
        }

        if (item.Quality is < 0 or > 100)
        {
            error = InvalidQuality;
            return false;
        }

        return true;
    }

    /// <summary>An item's embeddings as a query: each vector checked against the models this registry takes, all of one model.</summary>
    private bool TryReadEmbeddings(LookupItem item, LookupBuffers buffers, out EmbeddingQuery? query, out LookupError error)
    {
        query = null;
        error = null!;
        if (item.MinSimilarity is { } min && (item.Embeddings is null || !(min is >= 0.5 and <= 1)))
        {
            error = InvalidMinSimilarity;
            return false;
        }

        if (item.Embeddings is null)
        {
            return true;
        }

        if (item.Embeddings.Count is 0 or > EmbeddingModels.MaxVectorsPerImage)
        {
            error = new LookupError(InvalidEmbeddingCode, "embeddings", $"embeddings holds 1 to {EmbeddingModels.MaxVectorsPerImage} vectors of one image.");
            return false;
        }

        // The search is exact (every claimed vector of the model), so one request's vectors are bounded.
        if (buffers.EmbeddingVectors + item.Embeddings.Count > MaxEmbeddingVectorsPerRequest)
        {
            error = TooManyEmbeddings;
            return false;
        }

        buffers.EmbeddingVectors += item.Embeddings.Count;

        var vectors = new List<float[]>(item.Embeddings.Count);
        for (var i = 0; i < item.Embeddings.Count; i++)
        {
            var (model, value) = item.Embeddings[i];
            float[] vector;
            try
            {
                if (!embeddingModels.TryRead(model, value, out vector, out var field, out var detail))
                {
                    error = new LookupError(InvalidEmbeddingCode, $"embeddings[{i}].{field}", detail!);
                    return false;
                }
            }
            catch (EmbeddingModelUnavailableException)
            {
                // A vector's length is known once the model is loaded: this item gets its own error, the other items are answered.
                error = EmbeddingModelUnavailable;
                return false;
            }

            if (model != item.Embeddings[0].Model)
            {
                error = new LookupError(InvalidEmbeddingCode, $"embeddings[{i}].model", "An item's embeddings are of one model.");
                return false;
            }

            vectors.Add(vector);
        }

        query = new EmbeddingQuery(item.Embeddings[0].Model!, vectors, (float)(item.MinSimilarity ?? _embeddingMinSimilarity));
        return true;
    }

    private static void WriteDecision(Utf8JsonWriter json, Decision decision, List<ResolvedMatch> matches, int more)
    {
        json.WriteStartObject("decision");
        for (var category = 0; category < UseCategories.All.Count; category++)
        {
            json.WriteString(UseCategories.All[category], Decision.ToWire(decision[category]));
        }

        json.WriteEndObject();
        json.WriteStartArray("matches");
        Span<char> hex = stackalloc char[ClaimKey.HexLength];
        foreach (var (id, by, trust, distance, similarity, derivedFrom) in matches)
        {
            json.WriteStartObject();
            id.Format(hex);
            json.WriteString("claim", hex);
            json.WriteString("by", by.ToWire());
            if (by == MatchKind.Pdq)
            {
                json.WriteNumber("distance", distance);
            }
            else if (by == MatchKind.Embedding)
            {
                json.WriteNumber("similarity", Math.Round(similarity, 4));
            }

            if (derivedFrom is not null)
            {
                json.WriteString("derived_from", derivedFrom);
            }

            json.WriteString("trust", trust.ToWire());
            json.WriteEndObject();
        }

        json.WriteEndArray();
        if (more > 0)
        {
            json.WriteNumber("more", more);
        }
    }
}

/// <summary>Per-request scratch lists, reused item after item, and the tally of items resolved for /metrics.</summary>
public sealed class LookupBuffers
{
    private LookupTally _tally;

    internal List<Match> Matches { get; } = [];

    internal List<ResolvedMatch> Resolved { get; } = [];

    /// <summary>Deciding matches of the last item beyond the <see cref="MatchingIndex.MaxListedMatches"/> listed.</summary>
    internal int More { get; set; }

    /// <summary>Embedding vectors this request's items have brought so far.</summary>
    internal int EmbeddingVectors { get; set; }

    /// <summary>Items of this request so far that asked for a PDQ radius above the default.</summary>
    internal int WidePdqSearches { get; set; }

    /// <summary>The run <see cref="LookupEngine.Prepare"/> checked last: its items and their URLs.</summary>
    internal PreparedItem[] Run { get; } = new PreparedItem[LookupEngine.RunLength];

    internal UrlProbe[] Probes { get; } = new UrlProbe[LookupEngine.RunLength];

    internal int RunCount { get; set; }

    internal void Count(bool matched)
    {
        if (matched)
        {
            _tally.Matched++;
        }
        else
        {
            _tally.Unmatched++;
        }
    }

    internal void CountError() => _tally.Errors++;

    /// <summary>The items counted since the last call; counted once per request (or stream chunk), not per item.</summary>
    public LookupTally TakeTally()
    {
        var tally = _tally;
        _tally = default;
        return tally;
    }
}

/// <summary>An item as <see cref="LookupEngine.Prepare"/> checked it: why it is refused, or what it looks up besides its URL.</summary>
internal struct PreparedItem
{
    public LookupItem? Item;
    public LookupError? Error;
    public string? Sha256;
    public PdqHash? Pdq;
    public int MaxDistance;
    public EmbeddingQuery? Embeddings;
}

/// <summary>Items resolved: a claim matched, none did, or the item was invalid.</summary>
public record struct LookupTally(int Matched, int Unmatched, int Errors);

/// <summary>A listed match as answered; <see cref="DerivedFrom"/> is the claimed URL when a derived fingerprint matched.</summary>
internal readonly record struct ResolvedMatch(ClaimKey Id, MatchKind By, TrustLevel Trust, int Distance, float Similarity, string? DerivedFrom = null);

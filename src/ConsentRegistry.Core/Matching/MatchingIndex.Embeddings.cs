using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Matching;

/// <summary>What a lookup item asks of the embeddings: its image's vectors (one model) and how similar a claimed one must be.</summary>
public sealed record EmbeddingQuery(string Model, IReadOnlyList<float[]> Vectors, float MinSimilarity)
{
    /// <summary>
    /// The cosine similarity a claimed vector must reach unless a lookup says otherwise (the
    /// registry's <c>Registry:Matching:EmbeddingMinSimilarity</c> default): high, because with the
    /// bundled model lower thresholds match unrelated images too often (docs/benchmarks.md).
    /// </summary>
    public const double DefaultMinSimilarity = 0.98;
}

/// <summary>
/// Embedding subjects: per model, the claimed vectors side by side in one array of float16, the
/// values claims carry scaled to length 1 (half the memory of float32; the scaling moves a value by
/// less than half precision's own rounding of it). A model with few
/// vectors is searched exactly (a dot product per claimed vector and query vector, O(vectors) per
/// item); from <see cref="ApproximateVectorSettings.MinVectors"/> on, an approximate index proposes
/// candidates and each is re-checked exactly against the stored vector.
/// </summary>
public sealed partial class MatchingIndex : IDisposable
{
    private readonly Dictionary<string, ClaimedVectors> _embeddings = new(StringComparer.Ordinal);
    private readonly ApproximateVectorSettings? _approximate;

    /// <summary>Vectors up to this long are widened on the stack (16 KB); longer ones in an array.</summary>
    private const int MaxStackDimensions = 4096;

    private void AddEmbedding(string value, int claim)
    {
        var (model, encoded) = Subject.EmbeddingParts(value);
        var vector = EmbeddingVector.DecodeStored(encoded);
        if (vector.Length == 0)
        {
            return; // not a vector: the claim was checked when it was accepted, so this does not happen
        }

        if (!_embeddings.TryGetValue(model, out var vectors))
        {
            vectors = new ClaimedVectors(vector.Length, _approximate);
            _embeddings[model] = vectors;
        }

        if (vector.Length != vectors.Dimensions)
        {
            return; // another length under the same id: the claim was checked against the model when it was accepted
        }

        vectors.Add(claim, Fingerprint.Of(value), vector);
    }

    private void CollectEmbeddings(EmbeddingQuery query, ref CandidateList candidates)
    {
        if (!_embeddings.TryGetValue(query.Model, out var vectors))
        {
            return;
        }

        if (vectors.Approximate is { } approximate)
        {
            CollectCandidates(query, vectors, approximate, ref candidates);
            return;
        }

        Span<float> widened = vectors.Dimensions <= MaxStackDimensions ? stackalloc float[vectors.Dimensions] : new float[vectors.Dimensions];
        for (var i = 0; i < vectors.Count; i++)
        {
            Check(query, vectors, i, widened, ref candidates);
        }
    }

    /// <summary>
    /// Rows asked of the approximate index at most for one query vector. It is asked for its
    /// configured number of candidates first, then for twice as many again while the farthest row it
    /// gave still reaches the threshold: the decision counts every claimed vector at or above it (any
    /// "n" wins), so other parties' claims of near-identical vectors, revoked ones included, cannot
    /// crowd a claim out of the candidates unless there are more than this many of them.
    /// </summary>
    public const int MaxVectorCandidates = 4096;

    /// <summary>The rows the approximate index proposes for any of the query's vectors, each checked once, exactly.</summary>
    private void CollectCandidates(EmbeddingQuery query, ClaimedVectors vectors, IApproximateVectors approximate, ref CandidateList candidates)
    {
        Span<int> first = stackalloc int[_approximate!.Candidates];
        Span<float> widened = vectors.Dimensions <= MaxStackDimensions ? stackalloc float[vectors.Dimensions] : new float[vectors.Dimensions];
        HashSet<int>? seen = query.Vectors.Count > 1 ? [] : null;
        foreach (var vector in query.Vectors)
        {
            if (vector.Length != vectors.Dimensions)
            {
                continue;
            }

            var rows = first;
            while (true)
            {
                var found = approximate.Search(vector, rows);
                foreach (var row in rows[..found])
                {
                    if ((uint)row < (uint)vectors.Count && (seen is null || seen.Add(row)))
                    {
                        Check(query, vectors, row, widened, ref candidates);
                    }
                }

                if (found < rows.Length || rows.Length >= MaxVectorCandidates || (uint)rows[found - 1] >= (uint)vectors.Count
                    || BestSimilarity(query, vectors, rows[found - 1], widened) < query.MinSimilarity - EmbeddingVector.SimilarityTolerance)
                {
                    break;
                }

                seen ??= [.. rows[..found]];
                rows = new int[Math.Min(rows.Length * 2, MaxVectorCandidates)];
            }
        }
    }

    /// <summary>Adds claimed row <paramref name="row"/> when its best similarity to the query's vectors reaches the threshold.</summary>
    private void Check(EmbeddingQuery query, ClaimedVectors vectors, int row, scoped Span<float> widened, ref CandidateList candidates)
    {
        var claim = vectors.Claims[row];
        if (_claims.IsRevoked(claim))
        {
            return;
        }

        var best = BestSimilarity(query, vectors, row, widened);
        if (best >= query.MinSimilarity - EmbeddingVector.SimilarityTolerance)
        {
            // Within the tolerance below the threshold counts as reaching it, and is said so.
            candidates.Add(new Candidate(claim, MatchKind.Embedding, vectors.Keys[row]) { Similarity = Math.Clamp(best, query.MinSimilarity, 1f) });
        }
    }

    /// <summary>The best cosine similarity of claimed row <paramref name="row"/> to the query's vectors (exact).</summary>
    private static float BestSimilarity(EmbeddingQuery query, ClaimedVectors vectors, int row, scoped Span<float> widened)
    {
        var stored = vectors.Widen(row, widened);
        var best = float.NegativeInfinity;
        foreach (var vector in query.Vectors)
        {
            if (vector.Length == stored.Length)
            {
                best = Math.Max(best, EmbeddingVector.Dot(stored, vector));
            }
        }

        return best;
    }

    /// <summary>
    /// The approximate indexes that models which reached the threshold still lack, built from their
    /// rows outside the write lock (20,000 vectors take seconds to insert; lookups scan exactly
    /// meanwhile). Call under the writer's lock only, then <see cref="CommitVectorIndexes"/> under the write lock.
    /// </summary>
    public IReadOnlyList<(string Model, IApproximateVectors Index)> PrepareVectorIndexes()
    {
        List<(string, IApproximateVectors)>? built = null;
        foreach (var (model, vectors) in _embeddings)
        {
            if (vectors.WantsApproximate)
            {
                (built ??= []).Add((model, vectors.Build()));
            }
        }

        return built ?? [];
    }

    /// <summary>Prepares and commits at once: for a caller that is the index's only user (tests, benchmarks).</summary>
    public void BuildVectorIndexes() => CommitVectorIndexes(PrepareVectorIndexes());

    /// <summary>Swaps prepared indexes in; under the write lock.</summary>
    public void CommitVectorIndexes(IReadOnlyList<(string Model, IApproximateVectors Index)> built)
    {
        foreach (var (model, index) in built)
        {
            _embeddings[model].Adopt(index);
        }
    }

    /// <summary>The models whose vectors claims carry, with each model's vector length and number of claimed vectors.</summary>
    public IReadOnlyList<(string Model, int Dimensions, int Vectors)> ClaimedVectorModels() =>
        [.. _embeddings.Select(model => (model.Key, model.Value.Dimensions, model.Value.Count))];

    /// <summary>Frees the approximate vector indexes (native memory); the rest is managed.</summary>
    public void Dispose()
    {
        foreach (var vectors in _embeddings.Values)
        {
            vectors.Dispose();
        }
    }

    private long EmbeddingBytes()
    {
        long bytes = 0;
        foreach (var vectors in _embeddings.Values)
        {
            bytes += vectors.Bytes;
        }

        return bytes;
    }

    /// <summary>
    /// One model's claimed vectors: row i is claim <see cref="Claims"/>[i]'s subject <see cref="Keys"/>[i].
    /// Once there are enough rows, an approximate index over all of them is built (<see cref="Build"/>,
    /// outside the write lock) and then kept current by <see cref="Add"/>.
    /// </summary>
    private sealed class ClaimedVectors(int dimensions, ApproximateVectorSettings? settings) : IDisposable
    {
        private Half[] _values = new Half[dimensions * 16];

        public int Dimensions => dimensions;

        public int Count => Claims.Count;

        public List<int> Claims { get; } = [];

        public List<UInt128> Keys { get; } = [];

        /// <summary>The approximate index, once the rows reach <see cref="ApproximateVectorSettings.MinVectors"/>.</summary>
        public IApproximateVectors? Approximate { get; private set; }

        public long Bytes => ((long)_values.Length * 2) + (Claims.Capacity * 4L) + (Keys.Capacity * 16L) + (Approximate?.Bytes ?? 0);

        /// <summary>Row <paramref name="row"/> as float32, written into <paramref name="into"/> (its length at least <see cref="Dimensions"/>).</summary>
        public ReadOnlySpan<float> Widen(int row, Span<float> into)
        {
            var target = into[..dimensions];
            TensorPrimitives.ConvertToSingle(_values.AsSpan(row * dimensions, dimensions), target);
            return target;
        }

        public void Add(int claim, UInt128 key, float[] vector)
        {
            if ((Count + 1) * dimensions > _values.Length)
            {
                Array.Resize(ref _values, _values.Length * 2);
            }

            TensorPrimitives.ConvertToHalf(vector, _values.AsSpan(Count * dimensions, dimensions));
            Claims.Add(claim);
            Keys.Add(key);
            Approximate?.Add(Count - 1, vector);
        }

        /// <summary>Whether the rows have reached the threshold and no approximate index holds them yet, or the one there asks to be built again.</summary>
        public bool WantsApproximate => settings is not null && Count >= settings.MinVectors && (Approximate is null || Approximate.WantsRebuild);

        /// <summary>
        /// Rows added one at a time before the rest go in from every core: a small graph built by
        /// several threads at once is another graph on every build, so a small index (every one
        /// in the tests) is built the same way each time, and a large one still gains the cores.
        /// </summary>
        private const int SerialRows = 8_192;

        /// <summary>
        /// An approximate index over the rows there are now, the first <see cref="SerialRows"/> added
        /// in order and the rest from every core. Only reads the rows, so it runs while lookups go on
        /// (the one writer adds nothing meanwhile); <see cref="Adopt"/> swaps it in.
        /// </summary>
        public IApproximateVectors Build()
        {
            var built = settings!.Create(dimensions);
            try
            {
                built.Reserve(Count);
                var widened = new float[dimensions];
                built.Centre(Mean(widened), Count);
                var serial = Math.Min(Count, SerialRows);
                for (var row = 0; row < serial; row++)
                {
                    built.Add(row, Widen(row, widened));
                }

                Parallel.For(serial, Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, () => new float[dimensions],
                    (row, _, widened) =>
                    {
                        built.Add(row, Widen(row, widened));
                        return widened;
                    },
                    _ => { });
                return built;
            }
            catch
            {
                built.Dispose();
                throw;
            }
        }

        /// <summary>The mean of the rows, or of evenly spaced ones where there are more than <see cref="MeanRows"/>.</summary>
        private float[] Mean(Span<float> widened)
        {
            var sum = new double[dimensions];
            var step = Math.Max(1, (Count + MeanRows - 1) / MeanRows);
            var rows = 0;
            for (var row = 0; row < Count; row += step, rows++)
            {
                var vector = Widen(row, widened);
                for (var i = 0; i < dimensions; i++)
                {
                    sum[i] += vector[i];
                }
            }

            return [.. sum.Select(total => (float)(total / Math.Max(1, rows)))];
        }

        private const int MeanRows = 65_536;

        /// <summary>Writes the dimensions and the rows (float16 values, claim numbers, subject keys), for a snapshot.</summary>
        public void WriteTo(SnapshotWriter writer)
        {
            writer.WriteInt64(dimensions);
            writer.WriteArray<Half>(_values.AsSpan(0, Count * dimensions));
            writer.WriteArray<int>(CollectionsMarshal.AsSpan(Claims));
            writer.WriteArray<UInt128>(CollectionsMarshal.AsSpan(Keys));
        }

        /// <summary>Reads what <see cref="WriteTo"/> wrote, as it stands in the file; <see cref="From"/> checks it.</summary>
        public static Rows ReadRows(SnapshotReader reader) =>
            new(reader.ReadCount(1 << 16), reader.ReadArray<Half>(), reader.ReadArray<int>(), reader.ReadArray<UInt128>());

        /// <summary>The vectors of rows read from a snapshot (and checksummed); the approximate index is built again by the first write after.</summary>
        public static ClaimedVectors From(Rows rows, ApproximateVectorSettings? settings, int claims)
        {
            var (dimensions, values, claimNumbers, keys) = rows;
            if (dimensions == 0 || values.Length == 0 || keys.Length != claimNumbers.Length || values.LongLength != (long)claimNumbers.Length * dimensions
                || claimNumbers.Any(claim => (uint)claim >= (uint)claims))
            {
                throw new SnapshotFormatException("A model's claimed vectors do not match their dimensions or claims.");
            }

            // Rows written before vectors were scaled to length 1 as they came in (claims took them
            // within 0.01 of it) are scaled here; rows already of length 1 come out as they went in.
            var widened = new float[dimensions];
            for (var row = 0; row < claimNumbers.Length; row++)
            {
                var stored = values.AsSpan(row * dimensions, dimensions);
                TensorPrimitives.ConvertToSingle(stored, widened);
                var length = EmbeddingVector.Length(widened);
                if (Math.Abs(length - 1) > 1e-3)
                {
                    EmbeddingVector.Normalise(widened);
                    TensorPrimitives.ConvertToHalf(widened, stored);
                }
            }

            var vectors = new ClaimedVectors(dimensions, settings) { _values = values };
            vectors.Claims.AddRange(claimNumbers);
            vectors.Keys.AddRange(keys);
            return vectors;
        }

        /// <summary>One model's rows as a snapshot holds them.</summary>
        public readonly record struct Rows(int Dimensions, Half[] Values, int[] Claims, UInt128[] Keys);

        /// <summary>Takes a built index in, in place of the one there was; under the write lock, with no row added since it was built.</summary>
        public void Adopt(IApproximateVectors built)
        {
            var replaced = Approximate;
            Approximate = built;
            replaced?.Dispose();
        }

        public void Dispose() => Approximate?.Dispose();
    }
}

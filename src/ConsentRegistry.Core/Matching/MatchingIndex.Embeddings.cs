using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Embeddings;

namespace ConsentRegistry.Core.Matching;

/// <summary>What a lookup item asks of the embeddings: its image's vectors (one model) and how similar a claimed one must be.</summary>
public sealed record EmbeddingQuery(string Model, IReadOnlyList<float[]> Vectors, float MinSimilarity);

/// <summary>
/// Embedding subjects: per model, the claimed vectors side by side in one array, searched exactly
/// (a dot product per claimed vector and query vector). Exact search costs O(claimed vectors) per
/// item: right for a registry holding up to some 100,000 claimed images; an approximate index
/// with an exact re-check takes over beyond that.
/// </summary>
public sealed partial class MatchingIndex
{
    private readonly Dictionary<string, ClaimedVectors> _embeddings = new(StringComparer.Ordinal);

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
            vectors = new ClaimedVectors(vector.Length);
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

        for (var i = 0; i < vectors.Count; i++)
        {
            var claim = vectors.Claims[i];
            if (_claims[claim].Revoked)
            {
                continue;
            }

            var stored = vectors.Vector(i);
            var best = float.NegativeInfinity;
            foreach (var vector in query.Vectors)
            {
                if (vector.Length == stored.Length)
                {
                    best = Math.Max(best, EmbeddingVector.Dot(stored, vector));
                }
            }

            if (best >= query.MinSimilarity)
            {
                candidates.Add(new Candidate(claim, MatchKind.Embedding, vectors.Keys[i]) { Similarity = Math.Min(best, 1f) });
            }
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

    /// <summary>One model's claimed vectors: row i is claim <see cref="Claims"/>[i]'s subject <see cref="Keys"/>[i].</summary>
    private sealed class ClaimedVectors(int dimensions)
    {
        private float[] _values = new float[dimensions * 16];

        public int Dimensions => dimensions;

        public int Count => Claims.Count;

        public List<int> Claims { get; } = [];

        public List<UInt128> Keys { get; } = [];

        public long Bytes => ((long)_values.Length * sizeof(float)) + (Claims.Capacity * 4L) + (Keys.Capacity * 16L);

        public ReadOnlySpan<float> Vector(int row) => _values.AsSpan(row * dimensions, dimensions);

        public void Add(int claim, UInt128 key, float[] vector)
        {
            if ((Count + 1) * dimensions > _values.Length)
            {
                Array.Resize(ref _values, _values.Length * 2);
            }

            vector.CopyTo(_values, Count * dimensions);
            Claims.Add(claim);
            Keys.Add(key);
        }
    }
}

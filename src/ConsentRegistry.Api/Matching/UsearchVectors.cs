using Cloud.Unum.USearch;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Api.Matching;

/// <summary>
/// <see cref="IApproximateVectors"/> on USearch (an HNSW graph, vectors quantised as
/// <c>Registry:Matching:VectorIndex:Quantization</c>): the candidates it proposes are re-checked
/// exactly by the matching index. USearch keeps one search context per hardware thread and fails a
/// search that finds none free ("Reserve capacity ahead of searches!"), so at most one search per
/// core runs at once here, the rest wait; adds come from the index's one writer while no search runs.
/// </summary>
public sealed class UsearchVectors : IApproximateVectors
{
    private readonly USearchIndex _index;
    private readonly int _dimensions;
    private readonly VectorIndexOptions _options;

    // Environment.ProcessorCount never exceeds the hardware threads USearch reserves contexts for.
    private readonly SemaphoreSlim _searches = new(Environment.ProcessorCount, Environment.ProcessorCount);
    private int _count;

    public UsearchVectors(int dimensions, VectorIndexOptions options)
    {
        _dimensions = dimensions;
        _options = options;
        _index = new USearchIndex(MetricKind.Cos, ScalarKindOf(options.Quantization), (ulong)dimensions,
            (ulong)options.Connectivity, (ulong)options.ExpansionAdd, (ulong)options.ExpansionSearch, false);
    }

    /// <summary>
    /// An estimate (the binding does not report USearch's allocations): each vector quantised, its
    /// key, and its neighbour lists (twice the connectivity on the base layer, about 1/connectivity
    /// of that again above it). docs/benchmarks.md has the measured resident size.
    /// </summary>
    public long Bytes
    {
        get
        {
            var scalar = _options.Quantization == "f32" ? 4 : 1;
            var neighbours = 2 * _options.Connectivity * 4 * (1 + (1.0 / _options.Connectivity));
            return (long)(_count * ((scalar * _dimensions) + 8 + neighbours));
        }
    }

    public void Add(int row, ReadOnlySpan<float> vector)
    {
        _index.Add((ulong)row, vector.ToArray());
        _count++;
    }

    public int Search(ReadOnlySpan<float> query, Span<int> rows)
    {
        var vector = query.ToArray();
        ulong[] keys;
        int found;
        _searches.Wait();
        try
        {
            found = (int)_index.Search(vector, rows.Length, out keys, out _);
        }
        finally
        {
            _searches.Release();
        }

        for (var i = 0; i < found; i++)
        {
            rows[i] = (int)keys[i];
        }

        return found;
    }

    public void Dispose()
    {
        _index.Dispose();
        _searches.Dispose();
    }

    /// <summary>The settings the matching index is built with, or null when the approximate index is off.</summary>
    public static ApproximateVectorSettings? Settings(VectorIndexOptions options) =>
        options.MinVectors <= 0
            ? null
            : new ApproximateVectorSettings(dimensions => new UsearchVectors(dimensions, options), options.MinVectors, options.Candidates);

    private static ScalarKind ScalarKindOf(string quantization) => quantization == "f32" ? ScalarKind.Float32 : ScalarKind.Int8;
}

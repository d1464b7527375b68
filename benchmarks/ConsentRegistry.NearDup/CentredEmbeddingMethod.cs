using ConsentRegistry.Core.Embeddings;

namespace ConsentRegistry.NearDup;

/// <summary>
/// The registry's embedder with one change, to see what centring is worth before whitening: each
/// vector minus the mean vector of a background set (images outside the evaluated set), then
/// L2-normalised again. The bundled model's pooled features are non-negative, so any two images
/// start with a high cosine; centring removes that common part.
/// </summary>
public sealed class CentredEmbeddingMethod : IMatchMethod, IDisposable
{
    private readonly EmbeddingMethod _embedding;
    private readonly float[] _mean;

    public CentredEmbeddingMethod(IReadOnlyList<double> thresholds, IReadOnlyList<string> background)
    {
        _embedding = new EmbeddingMethod(thresholds);
        var vectors = background.AsParallel().Select(_embedding.Probe).OfType<float[]>().ToList();
        if (vectors.Count == 0)
        {
            throw new ArgumentException("No background image could be read.");
        }

        _mean = new float[vectors[0].Length];
        foreach (var vector in vectors)
        {
            for (var i = 0; i < _mean.Length; i++)
            {
                _mean[i] += vector[i] / vectors.Count;
            }
        }

        Console.WriteLine($"background: {vectors.Count} images averaged");
    }

    public string Name => "embedding-centred";

    public IReadOnlyList<double> Thresholds => _embedding.Thresholds;

    public object? Claim(string path) => Probe(path);

    public object? Probe(string path)
    {
        if (_embedding.Probe(path) is not float[] vector)
        {
            return null;
        }

        var centred = new float[vector.Length];
        for (var i = 0; i < centred.Length; i++)
        {
            centred[i] = vector[i] - _mean[i];
        }

        var length = (float)EmbeddingVector.Length(centred);
        for (var i = 0; i < centred.Length; i++)
        {
            centred[i] /= length;
        }

        return centred;
    }

    public double Score(object claim, object probe) => _embedding.Score(claim, probe);

    public void Dispose() => _embedding.Dispose();
}

using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Imaging;
using ConsentRegistry.Imaging.Embeddings;

namespace ConsentRegistry.NearDup;

/// <summary>
/// The registry's image embedder as it stands (the bundled ResNet18, whole image letterboxed,
/// GeM-pooled): scores 1 − cosine similarity, so a threshold of 0.1 means similarity ≥ 0.9.
/// </summary>
public sealed class EmbeddingMethod(IReadOnlyList<double> thresholds) : IMatchMethod, IDisposable
{
    private readonly ImageEmbedder _embedder = new(new EmbeddingModelOptions());

    public string Name => "embedding";

    public IReadOnlyList<double> Thresholds => thresholds;

    public object? Claim(string path) => Probe(path);

    public object? Probe(string path)
    {
        try
        {
            using var encoded = EncodedImage.Open(File.ReadAllBytes(path));
            using var decoded = encoded.Decode(ImageHashMode.Exact);
            return _embedder.Embed([EmbeddingInput.From(decoded, _embedder.InputSize)])[0];
        }
        catch (Exception e) when (e is ImageDecodeException or IOException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    public double Score(object claim, object probe) => 1 - EmbeddingVector.Cosine((float[])claim, (float[])probe);

    public void Dispose() => _embedder.Dispose();
}

using ConsentRegistry.Api.Images;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Pdq;
using ConsentRegistry.Imaging;

namespace ConsentRegistry.Api.Fingerprints;

/// <summary>
/// Derives a fetched image's fingerprints: its SHA-256, its PDQ hash with the 8 dihedral variants
/// (so rotated and mirrored copies match), and its embedding. Decoding goes through the same gate
/// as uploads (one image per core, a budget of decoded bytes) with the same decompression-bomb
/// limits. A PDQ hash of quality below 50 is left out: Meta's guidance is that it matches
/// unrelated flat images. When the embedding model cannot load, the rest is derived without it.
/// </summary>
public sealed class ImageFingerprinter(ImageHashingGate gate, ImageEmbeddings embeddings, ILogger<ImageFingerprinter> logger)
{
    public async Task<ImageFingerprints> ComputeAsync(FetchedImage fetched, CancellationToken cancellationToken)
    {
        using var image = EncodedImage.Open(fetched.Data!);
        using var slot = await gate.EnterDecodeAsync(image.DecodeBytes(ImageHashMode.Exact), cancellationToken)
            ?? throw new ImageDecoderBusyException();
        using var pixels = image.Decode(ImageHashMode.Exact);
        var dihedral = pixels.HashDihedral();
        ImageEmbedding? embedding = null;
        try
        {
            embedding = embeddings.Embed(pixels);
        }
        catch (Exception e) when (!embeddings.Loaded && e is not OperationCanceledException)
        {
            logger.LogWarning("Fingerprinting without embeddings: the model did not load ({Reason})", embeddings.LoadFailure);
        }

        return new ImageFingerprints(fetched.Sha256!, dihedral, embedding);
    }
}

/// <summary>Every decode slot stayed busy for the gate's longest wait: the job is tried again later.</summary>
public sealed class ImageDecoderBusyException() : Exception("Every image decoder stayed busy.");

/// <summary>What the worker derived from one image.</summary>
public sealed record ImageFingerprints(string Sha256, PdqDihedral Dihedral, ImageEmbedding? Embedding)
{
    public int Quality => Dihedral.Quality;

    public string Pdq => Dihedral.Original.ToHex();

    /// <summary>The matching subjects: the SHA-256, the distinct dihedral PDQ hashes (when the quality allows), the embedding.</summary>
    public IReadOnlyList<Subject> Subjects()
    {
        var subjects = new List<Subject>(2 + PdqDihedral.Count) { new(SubjectKinds.Sha256, Sha256) };
        if (Quality >= ImageHashResponse.LowQualityBelow)
        {
            foreach (var hash in Dihedral.Hashes.ToArray().Select(h => h.ToHex()).Distinct(StringComparer.Ordinal))
            {
                subjects.Add(new Subject(SubjectKinds.Pdq, hash));
            }
        }

        if (Embedding is { } vector)
        {
            subjects.Add(new Subject(SubjectKinds.Embedding, vector.Model + " " + vector.Value));
        }

        return subjects;
    }
}

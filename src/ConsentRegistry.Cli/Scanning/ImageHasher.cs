using System.Security.Cryptography;
using ConsentRegistry.Cli.Deciding;
using ConsentRegistry.Imaging;

namespace ConsentRegistry.Cli.Scanning;

/// <summary>An image's keys: the SHA-256 of its bytes, its PDQ hash and quality and its embedding (when asked for), or why it could not be decoded.</summary>
public readonly record struct ImageHashes(string Sha256, string? Pdq, int Quality, string? Error, ImageVector? Embedding = null);

/// <summary>
/// Hashes images as <c>POST /v1/images</c> does, with the same decoder and the same limits
/// (decompression bombs refused from the header, decoded pixels within
/// <see cref="ImageHashingGate.DecodeBudgetBytes"/> across the images decoding at once), so that a
/// scanned image gets the PDQ hash (and, with an <paramref name="embedder"/>, the embedding) a
/// claimant got for it from the registry.
/// </summary>
public sealed class ImageHasher(ImageHashMode mode, ScanEmbedder? embedder = null)
{
    private readonly ImageHashingGate _gate = new();

    public async Task<ImageHashes> HashAsync(byte[] bytes, CancellationToken cancellationToken)
    {
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
        try
        {
            using var image = EncodedImage.Open(bytes);
            IDisposable? slot;
            while ((slot = await _gate.EnterDecodeAsync(image.DecodeBytes(mode), cancellationToken)) is null)
            {
                // The gate gives up after its longest wait (meant for HTTP requests); a scan just waits on.
            }

            using (slot)
            {
                using var pixels = image.Decode(mode);
                var hash = pixels.Hash();
                return new ImageHashes(sha256, hash.Hash.ToHex(), hash.Quality, null, embedder?.Embed(pixels));
            }
        }
        catch (ImageDecodeException e)
        {
            return new ImageHashes(sha256, null, 0, $"undecodable ({Describe(e.Error)}): {e.Message}");
        }
    }

    private static string Describe(ImageDecodeError error) => error switch
    {
        ImageDecodeError.Empty => "empty",
        ImageDecodeError.UnsupportedFormat => "unsupported format",
        ImageDecodeError.TooManyPixels => "too many pixels",
        ImageDecodeError.Implausible => "implausible dimensions",
        ImageDecodeError.Truncated => "truncated",
        _ => "corrupt",
    };
}

using System.Security.Cryptography;
using ConsentRegistry.Core.Pdq;
using ConsentRegistry.Imaging;

namespace ConsentRegistry.NearDup;

/// <summary>Lists candidate image files and hashes them with the registry's own decoder and PDQ.</summary>
public static class ImageFiles
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".webp"];

    public static List<string> List(IEnumerable<string> dirs) =>
        dirs.Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>The 8 dihedral PDQ hashes of a file, or null when the registry's decoder rejects it.</summary>
    public static PdqDihedral? TryHashDihedral(string path)
    {
        try
        {
            using var encoded = EncodedImage.Open(File.ReadAllBytes(path));
            using var decoded = encoded.Decode(ImageHashMode.Exact);
            return decoded.HashDihedral();
        }
        catch (Exception e) when (e is ImageDecodeException or IOException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    public static string Sha256(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}

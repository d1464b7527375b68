using System.Security.Cryptography;
using System.Text.RegularExpressions;
using ConsentRegistry.Core.Pdq;
using ConsentRegistry.Imaging;

namespace ConsentRegistry.NearDup;

/// <summary>Lists candidate image files and hashes them with the registry's own decoder and PDQ.</summary>
public static partial class ImageFiles
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".webp"];

    /// <summary>
    /// Image files under the folders, less <see cref="IsGeneratedFamily">generated families</see>.
    /// </summary>
    public static List<string> List(IEnumerable<string> dirs) =>
        dirs.Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Where(f => !IsGeneratedFamily(f))
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// openclipart's <c>shapes/stars/star_&lt;points&gt;pt&lt;step&gt;step.png</c>: 1,375 star polygons drawn by a
    /// program (a fifth of the package), most of them thin circles that look alike. Picked as originals they
    /// are copies of one another, and as distractors they are copies of those originals, so neither role
    /// measures anything.
    /// </summary>
    public static bool IsGeneratedFamily(string path) => GeneratedStar().IsMatch(path);

    [GeneratedRegex(@"/star_\d+pt\d+step\.png$")]
    private static partial Regex GeneratedStar();

    /// <summary>The 8 dihedral PDQ hashes of a file, or null when the registry's decoder rejects it.</summary>
    public static PdqDihedral? TryHashDihedral(string path) =>
        TryDecode(path, decoded => (object)decoded.HashDihedral()) is PdqDihedral dihedral ? dihedral : null;

    /// <summary>Something made from a file's decoded pixels, or null when the registry's decoder rejects it.</summary>
    public static T? TryDecode<T>(string path, Func<DecodedImage, T> make) where T : class
    {
        try
        {
            using var encoded = EncodedImage.Open(File.ReadAllBytes(path));
            using var decoded = encoded.Decode(ImageHashMode.Exact);
            return make(decoded);
        }
        catch (Exception e) when (e is ImageDecodeException or IOException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    public static string Sha256(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}

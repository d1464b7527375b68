using ConsentRegistry.Core.Pdq;
using SkiaSharp;

namespace ConsentRegistry.Core.Tests.Pdq;

/// <summary>
/// Finds the PDQ conformance data (shared/testdata/pdq beside the repository) and decodes its images.
/// </summary>
internal static class PdqTestData
{
    private const string RelativeDirectory = "shared/testdata/pdq";
    private const string MarkerFile = "expected.csv";

    /// <summary>Theory rows name this when the data cannot be found, so the test fails saying where it looked.</summary>
    public const string NotFound = "<PDQ test data not found>";

    private static readonly Lazy<(string? Directory, string SearchedFrom)> Location = new(Locate);

    /// <summary>The data directory, or null when no ancestor of the test binaries has it.</summary>
    public static string? DirectoryOrNull => Location.Value.Directory;

    /// <summary>The data directory; fails the calling test when it is missing.</summary>
    public static string Directory =>
        Location.Value.Directory ?? throw new InvalidOperationException(
            $"PDQ conformance data not found: looked for <dir>/{RelativeDirectory}/{MarkerFile} in every ancestor " +
            $"<dir> of {Location.Value.SearchedFrom} (the shared/ folder must sit beside the repository clone).");

    private static (string?, string) Locate()
    {
        string start = AppContext.BaseDirectory;
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, RelativeDirectory);
            if (File.Exists(Path.Combine(candidate, MarkerFile)))
            {
                return (candidate, start);
            }
        }

        return (null, start);
    }

    /// <summary>Rows of a CSV file of the data directory, header skipped, split on commas.</summary>
    public static IReadOnlyList<string[]> ReadCsv(string fileName) =>
        File.ReadLines(Path.Combine(Directory, fileName))
            .Skip(1)
            .Where(line => line.Trim().Length > 0)
            .Select(line => line.Trim().Split(','))
            .ToList();

    /// <summary>Theory rows from a CSV file, or one <see cref="NotFound"/> row when the data is missing.</summary>
    public static TheoryData<string> PathsOf(string fileName, Func<string[], bool>? filter = null)
    {
        var data = new TheoryData<string>();
        if (DirectoryOrNull is null)
        {
            data.Add(NotFound);
            return data;
        }

        foreach (var row in ReadCsv(fileName))
        {
            if (filter is null || filter(row))
            {
                data.Add(row[0]);
            }
        }

        return data;
    }

    /// <summary>The CSV row whose first column is <paramref name="path"/>.</summary>
    public static string[] Row(string fileName, string path)
    {
        _ = Directory; // fails first, saying where it looked, when the data is missing
        return ReadCsv(fileName).Single(row => row[0] == path);
    }

    /// <summary>
    /// Decodes an image as the reference's loader sees it: grey images as one grey channel, everything else
    /// as RGB with any alpha composited over white; no colour management, no EXIF orientation.
    /// </summary>
    public static DecodedImage Decode(string relativePath)
    {
        string file = Path.Combine(Directory, relativePath);
        using var codec = SKCodec.Create(file) ?? throw new InvalidOperationException($"Skia cannot decode {file}.");
        var source = codec.Info;
        bool gray = source.ColorType == SKColorType.Gray8;
        var target = gray
            ? new SKImageInfo(source.Width, source.Height, SKColorType.Gray8, SKAlphaType.Opaque)
            : new SKImageInfo(source.Width, source.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var result = codec.GetPixels(target, out byte[] pixels);
        if (result != SKCodecResult.Success)
        {
            throw new InvalidOperationException($"Decoding {file} gave {result}.");
        }

        if (gray)
        {
            return new DecodedImage(pixels, target.Width, target.Height, target.RowBytes, PdqPixelFormat.Gray8);
        }

        CompositeOverWhite(pixels);
        return new DecodedImage(pixels, target.Width, target.Height, target.RowBytes, PdqPixelFormat.Rgba32);
    }

    private static void CompositeOverWhite(byte[] rgba)
    {
        for (int i = 0; i < rgba.Length; i += 4)
        {
            int a = rgba[i + 3];
            if (a == 255)
            {
                continue;
            }

            for (int c = 0; c < 3; c++)
            {
                rgba[i + c] = (byte)((rgba[i + c] * a + 255 * (255 - a) + 127) / 255);
            }

            rgba[i + 3] = 255;
        }
    }
}

/// <summary>Decoded 8-bit pixels.</summary>
internal sealed record DecodedImage(byte[] Pixels, int Width, int Height, int StrideBytes, PdqPixelFormat Format)
{
    public PdqResult Hash() => PdqHasher.Hash(Pixels, Width, Height, StrideBytes, Format);

    public PdqDihedral HashDihedral() => PdqHasher.HashDihedral(Pixels, Width, Height, StrideBytes, Format);
}

using SkiaSharp;

namespace ConsentRegistry.Api.Tests.Images;

/// <summary>
/// Test pictures, and their PNG, JPEG and WebP files as Skia encodes them (<see cref="HandWrittenImages"/> writes
/// the formats Skia only decodes).
/// </summary>
internal static class TestImages
{
    /// <summary>A file of the PDQ conformance data (tests/testdata/pdq), e.g. <c>PdqDataFile("expected.csv")</c>.</summary>
    public static string PdqDataFile(string relativePath) => RepositoryPaths.TestDataFile("pdq", relativePath);

    public static byte[] ReadPdqData(string relativePath) => File.ReadAllBytes(PdqDataFile(relativePath));

    /// <summary>A 256-colour palette: a ramp through reds, greens and blues.</summary>
    public static byte[] Palette { get; } = Enumerable.Range(0, 256)
        .SelectMany(i => new[] { (byte)i, (byte)(255 - i), (byte)((i * 7) & 0xFF) })
        .ToArray();

    /// <summary>Palette indices of a smooth picture with structure at several scales (no two rows alike).</summary>
    public static byte[] Indices(int width, int height, int seed = 0)
    {
        var indices = new byte[width * height];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                double u = (double)x / width, v = (double)y / height;
                indices[y * width + x] = (byte)(127.5 + 127 * Math.Sin(5 * u + 3 * v * v + seed) * Math.Cos(4 * u * v + 2 * v));
            }
        }

        return indices;
    }

    /// <summary>The picture of <see cref="Indices"/> in RGBA.</summary>
    public static SKBitmap Bitmap(int width, int height, int seed = 0)
    {
        var indices = Indices(width, height, seed);
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = bitmap.GetPixelSpan();
        for (int p = 0; p < indices.Length; p++)
        {
            int i = indices[p];
            pixels[4 * p] = Palette[3 * i];
            pixels[4 * p + 1] = Palette[3 * i + 1];
            pixels[4 * p + 2] = Palette[3 * i + 2];
            pixels[4 * p + 3] = 255;
        }

        return bitmap;
    }

    /// <summary>A grey picture.</summary>
    public static SKBitmap GreyBitmap(int width, int height)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        Indices(width, height).CopyTo(bitmap.GetPixelSpan());
        return bitmap;
    }

    /// <summary>The middle <paramref name="fraction"/> of <paramref name="source"/> in each side, as a bitmap of its own.</summary>
    public static SKBitmap CentreCrop(SKBitmap source, double fraction)
    {
        var width = (int)(source.Width * fraction);
        var height = (int)(source.Height * fraction);
        using var subset = new SKBitmap();
        Assert.True(source.ExtractSubset(subset, SKRectI.Create((source.Width - width) / 2, (source.Height - height) / 2, width, height)));
        return subset.Copy();
    }

    public static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format, int quality = 100)
    {
        using var data = bitmap.Encode(format, quality) ?? throw new InvalidOperationException($"Skia cannot encode {format}.");
        return data.ToArray();
    }

    public static byte[] LosslessWebP(SKBitmap bitmap)
    {
        using var pixmap = bitmap.PeekPixels();
        using var data = pixmap.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 100))
            ?? throw new InvalidOperationException("Skia cannot encode lossless WebP.");
        return data.ToArray();
    }
}

using ConsentRegistry.Api.Images;
using SkiaSharp;

namespace ConsentRegistry.Api.Tests.Images;

/// <summary>What the decoder refuses, and that it refuses rather than fails: bombs, impostors, cut and damaged files.</summary>
public sealed class ImageDecoderRefusalTests
{
    private static ImageDecodeError ErrorOf(byte[] file)
    {
        var error = Assert.Throws<ImageDecodeException>(() =>
        {
            using var image = EncodedImage.Open(file);
            using var pixels = image.Decode();
        });
        return error.Error;
    }

    public static TheoryData<string, byte[]> Bombs => new()
    {
        { "PNG 20000×20000", HandWrittenImages.PngHeaderOnly(20_000, 20_000) },
        { "BMP 20000×20000", HandWrittenImages.BmpHeader(20_000, 20_000, 20_000 * 60_000) },
        { "PNG 10001×10000", HandWrittenImages.PngHeaderOnly(10_001, 10_000) },
    };

    [Theory]
    [MemberData(nameof(Bombs))]
    public void A_header_claiming_over_100_megapixels_is_refused_before_decoding(string name, byte[] file)
    {
        var error = Assert.Throws<ImageDecodeException>(() => EncodedImage.Open(file));

        Assert.True(error.Error == ImageDecodeError.TooManyPixels, $"{name}: {error.Error}");
    }

    [Fact]
    public void An_image_of_exactly_100_megapixels_passes_the_header_check()
    {
        using var image = EncodedImage.Open(HandWrittenImages.PngHeaderOnly(10_000, 10_000));

        Assert.Equal(100_000_000L, (long)image.Width * image.Height);
    }

    public static TheoryData<string, byte[], ImageDecodeError> BadFiles => new()
    {
        { "empty", [], ImageDecodeError.Empty },
        { "text", "hello, world"u8.ToArray(), ImageDecodeError.UnsupportedFormat },
        { "ICO (decodable, not accepted)", [0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0], ImageDecodeError.UnsupportedFormat },
        { "TIFF", [.. "II*\0"u8, 8, 0, 0, 0], ImageDecodeError.UnsupportedFormat },
        { "PNG signature only", [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], ImageDecodeError.Corrupt },
        { "JPEG SOI then garbage", [0xFF, 0xD8, 0xFF, .. Enumerable.Repeat((byte)0x5A, 500)], ImageDecodeError.Corrupt },
        { "GIF header only", "GIF89a"u8.ToArray(), ImageDecodeError.Corrupt },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void A_file_that_is_not_a_supported_image_is_refused_with_the_reason(string name, byte[] file, ImageDecodeError expected)
    {
        Assert.True(ErrorOf(file) == expected, $"{name}: {ErrorOf(file)}, not {expected}");
    }

    [Theory]
    [InlineData("bridge-mods/aaa-orig.jpg")]
    [InlineData("generated/shapes-a.png")]
    public void A_file_cut_in_half_is_refused_as_truncated(string path)
    {
        var file = TestImages.ReadPdqData(path);

        Assert.Equal(ImageDecodeError.Truncated, ErrorOf(file[..(file.Length / 2)]));
    }

    [Fact]
    public void Cut_or_damaged_files_of_every_format_either_decode_or_are_refused_never_anything_else()
    {
        using var bitmap = TestImages.Bitmap(600, 520);
        byte[][] files =
        [
            TestImages.Encode(bitmap, SKEncodedImageFormat.Png),
            TestImages.Encode(bitmap, SKEncodedImageFormat.Jpeg, 80),
            TestImages.Encode(bitmap, SKEncodedImageFormat.Webp, 80),
            TestImages.LosslessWebP(bitmap),
            HandWrittenImages.Bmp(600, 520),
            HandWrittenImages.Gif(600, 520),
        ];
        var random = new Random(42);
        int decoded = 0, refused = 0;
        foreach (var file in files)
        {
            for (int i = 0; i < 25; i++)
            {
                var damaged = i % 2 == 0 ? file[..random.Next(1, file.Length)] : (byte[])file.Clone();
                if (i % 2 == 1)
                {
                    for (int k = 0; k < 1 + i; k++)
                    {
                        damaged[random.Next(Math.Min(16, damaged.Length), damaged.Length)] = (byte)random.Next(256);
                    }
                }

                foreach (var mode in new[] { ImageHashMode.Exact, ImageHashMode.Fast })
                {
                    try
                    {
                        using var image = EncodedImage.Open(damaged);
                        using var pixels = image.Decode(mode);
                        pixels.Hash();
                        decoded++;
                    }
                    catch (ImageDecodeException)
                    {
                        refused++; // any other exception fails the test
                    }
                }
            }
        }

        Assert.True(decoded > 0 && refused > 0, $"{decoded} decoded, {refused} refused");
    }
}

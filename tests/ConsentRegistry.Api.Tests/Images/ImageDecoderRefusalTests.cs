using System.Buffers.Binary;
using ConsentRegistry.Imaging;
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
        using var image = EncodedImage.Open(HandWrittenImages.GreyPng(10_000, 10_000, interlaced: false));

        Assert.Equal(100_000_000L, (long)image.Width * image.Height);
    }

    public static TheoryData<string, byte[]> ImplausibleFiles => new()
    {
        { "43-byte GIF: 10000×10000 screen, 1×1 frame", HandWrittenImages.GifTinyFrameOnHugeCanvas() },
        { "1,080-byte RLE BMP declaring 10000×10000", HandWrittenImages.RleBmp(10_000, 10_000) },
        { "80-byte OS/2 RLE24 BMP declaring 10000×10000", HandWrittenImages.Os2Rle24Bmp(10_000, 10_000) },
        { "PNG declaring 10000×10000 with one row of data", HandWrittenImages.PngHeaderOnly(10_000, 10_000) },
        { "JPEG header of 10000×10000 cut short", JpegHeaderOnly(10_000, 10_000) },
    };

    [Theory]
    [MemberData(nameof(ImplausibleFiles))]
    public void A_file_too_small_for_the_pixels_it_declares_is_refused_before_decoding(string name, byte[] file)
    {
        var error = Assert.Throws<ImageDecodeException>(() => EncodedImage.Open(file));

        Assert.True(error.Error == ImageDecodeError.Implausible, $"{name} ({file.Length} bytes): {error.Error}");
    }

    [Fact]
    public void The_bomb_files_are_as_small_as_measured()
    {
        Assert.Equal(43, HandWrittenImages.GifTinyFrameOnHugeCanvas().Length);
        Assert.Equal(1_080, HandWrittenImages.RleBmp(10_000, 10_000).Length);
    }

    [Fact]
    public void The_tightest_png_zlib_can_write_passes_the_plausibility_check_with_little_to_spare()
    {
        var png = HandWrittenImages.GreyPng(4_000, 3_000, interlaced: false);
        double ratio = 3_000.0 * (1 + 4_000 / 8) / png.Length; // image data bytes per file byte

        using (EncodedImage.Open(png))
        {
        }

        Assert.True(ratio is > 900 and < ImagePlausibility.DeflateMaxRatio, $"{ratio:0.0}:1");
    }

    [Fact]
    public void An_interlaced_png_over_16_megapixels_is_refused_because_it_would_be_decoded_whole()
    {
        var error = Assert.Throws<ImageDecodeException>(() => EncodedImage.Open(HandWrittenImages.GreyPng(10_000, 10_000, interlaced: true)));

        Assert.Equal(ImageDecodeError.TooManyPixels, error.Error);
        Assert.Contains("interlaced PNG", error.Message);
    }

    [Fact]
    public void An_interlaced_png_within_the_whole_decode_limit_is_hashed_like_the_same_image_not_interlaced()
    {
        static bool Checks(int x, int y) => (x / 37 + y / 23 + x * y / 4_000) % 2 == 0;
        using var interlaced = EncodedImage.Open(HandWrittenImages.GreyPng(1_200, 900, interlaced: true, Checks));
        using var plain = EncodedImage.Open(HandWrittenImages.GreyPng(1_200, 900, interlaced: false, Checks));
        using var a = interlaced.Decode();
        using var b = plain.Decode();

        var hash = b.Hash();
        Assert.True(hash.Quality >= 50, $"quality {hash.Quality}");
        Assert.Equal(hash, a.Hash());
    }

    [Fact]
    public void A_progressive_jpeg_reserves_its_coefficient_buffer_for_every_block_of_every_component()
    {
        using var image = EncodedImage.Open(HandWrittenImages.ProgressiveJpeg(2_050, 1_030, [(2, 2), (1, 1), (1, 1)]));
        using var pixels = image.Decode();

        // 4:2:0, in blocks rounded up to whole MCUs: luma 258×130, each chroma 129×65; 128 bytes a block, at any scale.
        long coefficients = (258 * 130 + 2 * 129 * 65) * 128;
        Assert.Equal(4L * (2_050 + 512 * 512) + coefficients, image.DecodeBytes(ImageHashMode.Exact)); // and a row, the grid
        Assert.True(image.DecodeBytes(ImageHashMode.Fast) > coefficients);
        Assert.Equal((512, 512), (pixels.Width, pixels.Height));
    }

    [Fact]
    public void A_junk_byte_between_segments_does_not_hide_a_progressive_jpegs_coefficients()
    {
        var file = HandWrittenImages.ProgressiveJpeg(2_050, 1_030, [(2, 2), (1, 1), (1, 1)]);
        var frame = file.AsSpan().IndexOf([(byte)0xFF, (byte)0xC2]);
        var after = frame + 2 + (file[frame + 2] << 8 | file[frame + 3]);
        byte[] junked = [.. file[..after], 0x00, .. file[after..]]; // libjpeg skips it with a warning

        using var image = EncodedImage.Open(junked);

        long coefficients = (258 * 130 + 2 * 129 * 65) * 128;
        Assert.Equal(4L * (2_050 + 512 * 512) + coefficients, image.DecodeBytes(ImageHashMode.Exact));
    }

    [Fact]
    public void A_progressive_jpeg_whose_coefficients_would_outweigh_the_largest_whole_decode_is_refused()
    {
        // A camera's 20 MP at 4:4:4 holds 120 MB of coefficients: decoded. 72 MP at 4:4:4 would hold 432 MB: refused.
        using (var camera = EncodedImage.Open(HandWrittenImages.ProgressiveJpeg(5_000, 4_000, [(1, 1), (1, 1), (1, 1)])))
        {
            Assert.Equal(120_000_000 + 4 * (5_000 + 512 * 512), camera.DecodeBytes(ImageHashMode.Exact));
        }

        var error = Assert.Throws<ImageDecodeException>(() => EncodedImage.Open(HandWrittenImages.ProgressiveJpeg(9_000, 8_000, [(1, 1), (1, 1), (1, 1)])));

        Assert.Equal(ImageDecodeError.TooManyPixels, error.Error);
        Assert.Contains("progressive JPEG", error.Message);
    }

    [Fact]
    public void A_jpeg_of_more_than_64_scans_is_refused_before_decoding()
    {
        using (var image = EncodedImage.Open(HandWrittenImages.ProgressiveJpeg(600, 600, [(1, 1)], acScans: 63)))
        using (var pixels = image.Decode())
        {
            Assert.Equal((512, 512), (pixels.Width, pixels.Height));
        }

        var error = Assert.Throws<ImageDecodeException>(() => EncodedImage.Open(HandWrittenImages.ProgressiveJpeg(600, 600, [(1, 1)], acScans: 64)));
        Assert.Equal(ImageDecodeError.Implausible, error.Error);
    }

    [Fact]
    public void An_interlaced_png_reserves_the_whole_image_copy_its_decoder_keeps_besides_the_pixels()
    {
        using var interlaced = EncodedImage.Open(HandWrittenImages.GreyPng(4_000, 3_000, interlaced: true));
        using var plain = EncodedImage.Open(HandWrittenImages.GreyPng(4_000, 3_000, interlaced: false));

        // Grey: a byte a pixel decoded, and the 1-bit rows widened to a byte a pixel in the decoder's copy.
        Assert.Equal(12_000_000L + 512 * 512, plain.DecodeBytes(ImageHashMode.Exact));
        Assert.Equal(2 * 12_000_000L + 512 * 512, interlaced.DecodeBytes(ImageHashMode.Exact));
    }

    [Theory]
    [InlineData(1_600, 1_000, true)] // 1.6 MP: over the free 1 MP, within 16 × 400×300
    [InlineData(2_000, 1_000, false)] // 2 MP: over 16 × 400×300
    public void A_gif_canvas_over_a_megapixel_may_be_at_most_16_times_its_largest_frame(int width, int height, bool accepted)
    {
        var gif = HandWrittenImages.Gif(400, 300);
        BinaryPrimitives.WriteUInt16LittleEndian(gif.AsSpan(6), (ushort)width); // the logical screen
        BinaryPrimitives.WriteUInt16LittleEndian(gif.AsSpan(8), (ushort)height);

        if (accepted)
        {
            using var image = EncodedImage.Open(gif);
            using var pixels = image.Decode();
            Assert.Equal((width, height), (image.Width, image.Height));
        }
        else
        {
            Assert.Equal(ImageDecodeError.Implausible, Assert.Throws<ImageDecodeException>(() => EncodedImage.Open(gif)).Error);
        }
    }

    [Fact]
    public void A_webp_over_16_megapixels_is_decoded_at_half_scale_even_in_exact_mode_and_says_so()
    {
        using var small = TestImages.Bitmap(600, 560);
        using var large = small.Resize(new SKImageInfo(4_200, 4_000, SKColorType.Rgba8888, SKAlphaType.Opaque), SKSamplingOptions.Default);
        using var image = EncodedImage.Open(TestImages.Encode(large, SKEncodedImageFormat.Webp, 50));

        Assert.Equal((2_100, 2_000), image.DecodedSize(ImageHashMode.Exact));
        Assert.Equal(ImageHashMode.Fast, image.DecodedMode(ImageHashMode.Exact));
        Assert.True(image.DecodeBytes(ImageHashMode.Exact) <= 4L * ImageLimits.MaxWholeDecodePixels + 4 * 512 * 512);
        using var pixels = image.Decode(ImageHashMode.Exact);
        Assert.Equal((512, 512), (pixels.Width, pixels.Height));
    }

    [Fact]
    public void A_100_megapixel_png_is_decoded_whole_into_native_memory_not_the_managed_heap()
    {
        using var image = EncodedImage.Open(HandWrittenImages.GreyPng(10_000, 10_000, interlaced: false));
        Assert.Equal(100_000_000L + 512 * 512, image.DecodeBytes(ImageHashMode.Exact)); // grey: a byte a pixel, and the grid

        long before = GC.GetAllocatedBytesForCurrentThread();
        using var pixels = image.Decode();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal((512, 512), (pixels.Width, pixels.Height));
        Assert.True(allocated < 8_000_000, $"{allocated:N0} managed bytes allocated");
    }

    private static byte[] JpegHeaderOnly(int width, int height)
    {
        using var bitmap = TestImages.Bitmap(64, 64);
        var jpeg = TestImages.Encode(bitmap, SKEncodedImageFormat.Jpeg, 80);
        for (int i = 2; i + 8 < jpeg.Length; i++)
        {
            if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) // SOF0: length, precision, height, width
            {
                jpeg[i + 5] = (byte)(height >> 8);
                jpeg[i + 6] = (byte)height;
                jpeg[i + 7] = (byte)(width >> 8);
                jpeg[i + 8] = (byte)width;
                break;
            }
        }

        return jpeg;
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
    public void A_jpeg_whose_row_decode_cannot_start_is_refused_with_the_codecs_error()
    {
        // Cut in its last scan: libjpeg-turbo reads every scan before the first row comes out, then fails.
        // (That the file is not then decoded again whole shows only in CPU time, 1.9 to 2.6 times a failed
        // start before the change; a timing bound here failed under CI's load, so it is not asserted.)
        var file = HandWrittenImages.ProgressiveJpeg(2_000, 2_000, [(1, 1), (1, 1), (1, 1)], acScans: 30)[..^300];
        var info = new SKImageInfo(2_000, 2_000, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var codec = SKCodec.Create(SKData.CreateCopy(file));
        Assert.Equal(SKCodecResult.InvalidInput, codec.StartScanlineDecode(info));

        using var image = EncodedImage.Open(file);
        Assert.Equal(ImageDecodeError.Corrupt, Assert.Throws<ImageDecodeException>(() => image.Decode()).Error);
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

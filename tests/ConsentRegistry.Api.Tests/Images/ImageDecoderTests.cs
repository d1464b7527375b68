using ConsentRegistry.Imaging;
using ConsentRegistry.Core.Pdq;
using SkiaSharp;

namespace ConsentRegistry.Api.Tests.Images;

/// <summary>The decoder behind POST /v1/images, without the HTTP around it.</summary>
public sealed class ImageDecoderTests
{
    private static PdqResult Hash(byte[] file, ImageHashMode mode = ImageHashMode.Exact)
    {
        using var image = EncodedImage.Open(file);
        using var pixels = image.Decode(mode);
        return pixels.Hash();
    }

    [Theory]
    [InlineData(300, 200)]
    [InlineData(700, 650)]
    public void The_same_picture_as_png_lossless_webp_bmp_and_gif_hashes_identically(int width, int height)
    {
        using var bitmap = TestImages.Bitmap(width, height);
        var png = Hash(TestImages.Encode(bitmap, SKEncodedImageFormat.Png));

        Assert.Equal(png, Hash(TestImages.LosslessWebP(bitmap)));
        Assert.Equal(png, Hash(HandWrittenImages.Bmp(width, height)));
        Assert.Equal(png, Hash(HandWrittenImages.Gif(width, height)));
        Assert.True(png.Quality >= 80, $"quality {png.Quality}");
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png, "png")]
    [InlineData(SKEncodedImageFormat.Jpeg, "jpeg")]
    [InlineData(SKEncodedImageFormat.Webp, "webp")]
    public void Each_format_is_recognised_by_its_signature(SKEncodedImageFormat format, string name)
    {
        using var bitmap = TestImages.Bitmap(64, 48);

        using var image = EncodedImage.Open(TestImages.Encode(bitmap, format, 90));

        Assert.Equal(name, image.Format);
        Assert.Equal((64, 48), (image.Width, image.Height));
    }

    [Fact]
    public void A_lossy_webp_and_a_jpeg_land_within_a_few_bits_of_the_lossless_picture()
    {
        using var bitmap = TestImages.Bitmap(640, 480);
        var png = Hash(TestImages.Encode(bitmap, SKEncodedImageFormat.Png));

        Assert.InRange(Hash(TestImages.Encode(bitmap, SKEncodedImageFormat.Webp, 90)).Hash.HammingDistance(png.Hash), 0, 16);
        Assert.InRange(Hash(TestImages.Encode(bitmap, SKEncodedImageFormat.Jpeg, 90)).Hash.HammingDistance(png.Hash), 0, 16);
    }

    [Fact]
    public void An_animated_gif_is_hashed_by_its_first_frame()
    {
        using var secondPicture = TestImages.Bitmap(320, 240, seed: 1);
        var firstFrameOnly = Hash(HandWrittenImages.Gif(320, 240));
        var second = Hash(TestImages.Encode(secondPicture, SKEncodedImageFormat.Png));

        var animated = Hash(HandWrittenImages.Gif(320, 240, frames: 2));

        Assert.Equal(firstFrameOnly, animated);
        Assert.True(second.Hash.HammingDistance(animated.Hash) > 31);
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png)]
    [InlineData(SKEncodedImageFormat.Jpeg)]
    public void A_grey_image_decodes_as_one_grey_channel(SKEncodedImageFormat format)
    {
        using var bitmap = TestImages.GreyBitmap(400, 300);

        using var image = EncodedImage.Open(TestImages.Encode(bitmap, format, 95));
        using var pixels = image.Decode();

        Assert.Equal(PdqPixelFormat.Gray8, pixels.Format);
        Assert.Equal(400, pixels.StrideBytes);
    }

    [Fact]
    public void A_16_bit_png_hashes_as_its_8_bit_version()
    {
        using var bitmap = TestImages.Bitmap(400, 300);
        using var deep = bitmap.Copy(SKColorType.RgbaF16);
        var file = TestImages.Encode(deep, SKEncodedImageFormat.Png);
        Assert.Equal(16, file[24]); // IHDR bit depth

        Assert.InRange(Hash(file).Hash.HammingDistance(Hash(TestImages.Encode(bitmap, SKEncodedImageFormat.Png)).Hash), 0, 4);
    }

    [Fact]
    public void Transparent_pixels_are_composited_over_white()
    {
        using var opaque = TestImages.Bitmap(300, 200);
        using var translucent = opaque.Copy();
        using var onWhite = opaque.Copy();
        var rgba = translucent.GetPixelSpan();
        var expected = onWhite.GetPixelSpan();
        for (int p = 0; p < 300 * 200; p++)
        {
            byte alpha = (byte)(p % 300 < 150 ? 0 : p % 300 < 200 ? 128 : 255);
            rgba[4 * p + 3] = alpha;
            for (int c = 0; c < 3; c++)
            {
                expected[4 * p + c] = (byte)((rgba[4 * p + c] * alpha + 255 * (255 - alpha) + 127) / 255);
            }
        }

        using var unpremul = new SKBitmap(new SKImageInfo(300, 200, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        rgba.CopyTo(unpremul.GetPixelSpan());

        Assert.Equal(Hash(TestImages.Encode(onWhite, SKEncodedImageFormat.Png)), Hash(TestImages.Encode(unpremul, SKEncodedImageFormat.Png)));
    }

    [Theory]
    [InlineData("misc-images/modes/P.png", "png")]
    [InlineData("misc-images/modes/1.png", "png")]
    [InlineData("misc-images/modes/LA.png", "png")]
    [InlineData("misc-images/modes/CMYK.jpg", "jpeg")]
    public void Palette_one_bit_grey_alpha_and_cmyk_files_decode_to_the_picture_of_the_rgb_original(string path, string format)
    {
        var original = Hash(TestImages.ReadPdqData("misc-images/modes/original.jpg"));

        using var image = EncodedImage.Open(TestImages.ReadPdqData(path));
        using var pixels = image.Decode();

        Assert.Equal(format, image.Format);
        Assert.InRange(pixels.Hash().Hash.HammingDistance(original.Hash), 0, 16);
    }

    [Fact]
    public void The_exif_orientation_is_recorded_but_not_applied()
    {
        var jpeg = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        var rotated = HandWrittenImages.WithExifOrientation(jpeg, 6);

        using var image = EncodedImage.Open(rotated);

        Assert.Equal(6, image.ExifOrientation);
        Assert.Equal((1600, 1004), (image.Width, image.Height));
        Assert.Equal(Hash(jpeg), Hash(rotated));
    }

    [Theory]
    [InlineData("bridge-mods/aaa-orig.jpg")]
    [InlineData("reg-test-input/dih/bridge-2-rotate-90.jpg")]
    [InlineData("generated/plasma-large.png")]
    public void An_image_sampled_onto_the_512_grid_hashes_exactly_as_the_whole_decoded_image(string path)
    {
        var file = TestImages.ReadPdqData(path);
        using var whole = SKBitmap.Decode(file).Copy(SKColorType.Rgba8888);

        var expected = PdqHasher.Hash(whole.GetPixelSpan(), whole.Width, whole.Height, whole.RowBytes, PdqPixelFormat.Rgba32);

        Assert.Equal(expected, Hash(file));
    }

    [Fact]
    public void A_large_bottom_up_bmp_hashes_as_the_same_png()
    {
        using var bitmap = TestImages.Bitmap(900, 700, seed: 3);

        Assert.Equal(Hash(TestImages.Encode(bitmap, SKEncodedImageFormat.Png)), Hash(HandWrittenImages.Bmp(900, 700, seed: 3)));
    }

    [Fact]
    public void Fast_mode_decodes_a_large_jpeg_at_a_reduced_scale_within_a_few_bits()
    {
        var file = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        using var image = EncodedImage.Open(file);

        Assert.Equal((400, 251), image.DecodedSize(ImageHashMode.Fast));
        Assert.InRange(Hash(file, ImageHashMode.Fast).Hash.HammingDistance(Hash(file).Hash), 0, 10);
    }

    [Fact]
    public void Fast_mode_decodes_a_large_webp_at_a_reduced_scale_within_a_few_bits()
    {
        using var bitmap = TestImages.Bitmap(2000, 1500);
        var file = TestImages.Encode(bitmap, SKEncodedImageFormat.Webp, 90);
        using var image = EncodedImage.Open(file);

        var (width, height) = image.DecodedSize(ImageHashMode.Fast);

        Assert.True(width < 2000 && height >= EncodedImage.FastMinSide, $"{width}×{height}");
        Assert.InRange(Hash(file, ImageHashMode.Fast).Hash.HammingDistance(Hash(file).Hash), 0, 10);
    }
}

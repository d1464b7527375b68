using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Core.Tests.Pdq;

public sealed class PdqHasherTests
{
    // A smooth, deterministic test picture with structure at several scales.
    private static byte[] Picture(int width, int height, int bytesPerPixel = 3, int strideBytes = 0)
    {
        if (strideBytes == 0)
        {
            strideBytes = width * bytesPerPixel;
        }

        var pixels = new byte[strideBytes * height];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                double u = (double)x / width, v = (double)y / height;
                int o = y * strideBytes + x * bytesPerPixel;
                pixels[o] = (byte)(127.5 + 127 * Math.Sin(7 * u + 3 * v * v));
                if (bytesPerPixel >= 3)
                {
                    pixels[o + 1] = (byte)(127.5 + 127 * Math.Cos(11 * u * v + 2 * v));
                    pixels[o + 2] = (byte)((x * 7 + y * 3) & 0xFF);
                }

                if (bytesPerPixel == 4)
                {
                    pixels[o + 3] = 255;
                }
            }
        }

        return pixels;
    }

    [Theory]
    [InlineData(200, 150)]
    [InlineData(1600, 1004)]
    [InlineData(64, 64)]
    public void The_dihedral_original_equals_the_plain_hash(int width, int height)
    {
        var pixels = Picture(width, height);

        var plain = PdqHasher.Hash(pixels, width, height, width * 3);
        var dihedral = PdqHasher.HashDihedral(pixels, width, height, width * 3);

        // (The reference's plain path skips the filter for exactly 64×64 input while its dihedral path does
        // not; on a picture of whole-number luminances that still gives the same bits.)
        Assert.Equal(plain.Hash, dihedral.Original);
        Assert.Equal(plain.Quality, dihedral.Quality);
        Assert.Equal(PdqDihedral.Count, dihedral.Hashes.Length);
        Assert.Equal(dihedral.Original, dihedral.Hashes[0]);
    }

    [Fact]
    public void Dihedral_variants_differ_from_the_original_by_about_half_the_bits()
    {
        var pixels = Picture(300, 200);

        var dihedral = PdqHasher.HashDihedral(pixels, 300, 200, 900);

        for (int t = 1; t < PdqDihedral.Count; t++)
        {
            Assert.InRange(dihedral.Hashes[t].HammingDistance(dihedral.Original), 64, 192);
        }
    }

    [Theory]
    [InlineData(4, 4)]
    [InlineData(4, 100)]
    [InlineData(100, 4)]
    [InlineData(0, 0)]
    public void An_image_under_five_pixels_in_a_dimension_hashes_to_zero_with_quality_zero(int width, int height)
    {
        var pixels = Picture(Math.Max(width, 1), Math.Max(height, 1));

        var plain = PdqHasher.Hash(pixels, width, height, Math.Max(width, 1) * 3);
        var dihedral = PdqHasher.HashDihedral(pixels, width, height, Math.Max(width, 1) * 3);

        Assert.True(plain.Hash.IsZero);
        Assert.Equal(0, plain.Quality);
        Assert.All(dihedral.Hashes.ToArray(), h => Assert.True(h.IsZero));
        Assert.Equal(0, dihedral.Quality);
    }

    [Fact]
    public void A_five_pixel_image_gets_a_hash()
    {
        var pixels = Picture(5, 5);

        var result = PdqHasher.Hash(pixels, 5, 5, 15);

        Assert.False(result.Hash.IsZero);
    }

    [Fact]
    public void A_thin_image_with_a_side_over_512_is_stretched_to_512_square_as_the_reference_loader_does()
    {
        // The reference resizes before checking the minimum size, so a 4-pixel-wide strip still hashes.
        var pixels = Picture(4, 1000);

        var result = PdqHasher.Hash(pixels, 4, 1000, 12);

        Assert.False(result.Hash.IsZero);
    }

    [Fact]
    public void Rgb_rgba_and_bgra_layouts_of_the_same_picture_hash_alike()
    {
        const int width = 333, height = 211;
        var rgb = Picture(width, height);
        var rgba = new byte[width * height * 4];
        var bgra = new byte[width * height * 4];
        for (int p = 0; p < width * height; p++)
        {
            rgba[4 * p] = bgra[4 * p + 2] = rgb[3 * p];
            rgba[4 * p + 1] = bgra[4 * p + 1] = rgb[3 * p + 1];
            rgba[4 * p + 2] = bgra[4 * p] = rgb[3 * p + 2];
            rgba[4 * p + 3] = bgra[4 * p + 3] = 17; // alpha is ignored
        }

        var expected = PdqHasher.Hash(rgb, width, height, width * 3);

        Assert.Equal(expected, PdqHasher.Hash(rgba, width, height, width * 4, PdqPixelFormat.Rgba32));
        Assert.Equal(expected, PdqHasher.Hash(bgra, width, height, width * 4, PdqPixelFormat.Bgra32));
    }

    [Fact]
    public void Row_padding_does_not_change_the_hash()
    {
        const int width = 250, height = 180;
        var tight = Picture(width, height);
        var padded = Picture(width, height, strideBytes: width * 3 + 13);

        Assert.Equal(
            PdqHasher.Hash(tight, width, height, width * 3),
            PdqHasher.Hash(padded, width, height, width * 3 + 13));
    }

    [Fact]
    public void A_grey_image_hashes_as_its_grey_levels_taken_as_luminance()
    {
        const int width = 300, height = 240;
        var grey = Picture(width, height, bytesPerPixel: 1);
        var luma = grey.Select(b => (float)b).ToArray();

        Assert.Equal(
            PdqHasher.HashLuma(luma, width, height),
            PdqHasher.Hash(grey, width, height, width, PdqPixelFormat.Gray8));
    }

    [Fact]
    public void Luminance_input_gives_the_hash_of_the_rgb_picture_it_came_from()
    {
        const int width = 320, height = 200;
        var rgb = Picture(width, height);
        var luma = new float[width * height];
        for (int p = 0; p < luma.Length; p++)
        {
            luma[p] = (float)0.299 * rgb[3 * p] + (float)0.587 * rgb[3 * p + 1] + (float)0.114 * rgb[3 * p + 2];
        }

        Assert.Equal(PdqHasher.Hash(rgb, width, height, width * 3), PdqHasher.HashLuma(luma, width, height));
        Assert.Equal(
            PdqHasher.HashDihedral(rgb, width, height, width * 3).Hashes.ToArray(),
            PdqHasher.HashLumaDihedral(luma, width, height).Hashes.ToArray());
    }

    [Fact]
    public void A_flat_image_has_quality_zero()
    {
        var pixels = new byte[100 * 80 * 3];
        Array.Fill(pixels, (byte)128);

        var result = PdqHasher.Hash(pixels, 100, 80, 300);

        Assert.Equal(0, result.Quality);
    }

    [Fact]
    public void A_detailed_image_has_half_its_bits_set_and_full_quality()
    {
        var result = PdqHasher.Hash(Picture(640, 480), 640, 480, 640 * 3);

        Assert.Equal(128, result.Hash.PopCount());
        Assert.Equal(100, result.Quality);
    }

    [Fact]
    public void A_buffer_too_short_for_the_dimensions_is_refused()
    {
        var pixels = new byte[100 * 100 * 3 - 1];

        Assert.Throws<ArgumentException>(() => PdqHasher.Hash(pixels, 100, 100, 300));
    }

    [Fact]
    public void A_stride_shorter_than_a_row_is_refused()
    {
        var pixels = new byte[100 * 100 * 3];

        Assert.Throws<ArgumentOutOfRangeException>(() => PdqHasher.Hash(pixels, 100, 100, 299));
    }

    [Fact]
    public void Negative_dimensions_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PdqHasher.Hash(new byte[10], -1, 5, 3));
    }
}

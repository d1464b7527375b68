using ConsentRegistry.Imaging;
using ConsentRegistry.Imaging.Embeddings;
using SkiaSharp;

namespace ConsentRegistry.Core.Tests.Imaging;

/// <summary>Finding the picture inside uniform margins, and an embedder's input made from a region of an image.</summary>
public sealed class ContentBoundsTests
{
    [Fact]
    public void A_picture_on_a_white_mat_is_found_to_the_pixel()
    {
        using var image = Decode(Png(300, 200, SKColors.White, c => Stripes(c, new SKRect(50, 40, 150, 120))));

        Assert.Equal(new PixelRegion(50, 40, 100, 80), ContentBounds.Find(image));
    }

    [Fact]
    public void Nested_margins_of_different_colours_are_all_trimmed()
    {
        // A dark bar above a white canvas, as in a screenshot: the bar, then the white below it.
        using var image = Decode(Png(200, 200, SKColors.White, c =>
        {
            using var dark = new SKPaint { Color = new SKColor(40, 44, 52) };
            c.DrawRect(0, 0, 200, 30, dark);
            Stripes(c, new SKRect(20, 60, 120, 160));
        }));

        Assert.Equal(new PixelRegion(20, 60, 100, 100), ContentBounds.Find(image));
    }

    [Fact]
    public void A_picture_with_no_margin_is_left_whole()
    {
        using var image = Decode(Png(120, 90, SKColors.White, c => Stripes(c, new SKRect(0, 0, 120, 90))));

        Assert.Equal(PixelRegion.Whole(image), ContentBounds.Find(image));
    }

    [Fact]
    public void A_blank_image_keeps_a_fifth_of_each_side_rather_than_vanishing()
    {
        using var image = Decode(Png(100, 50, SKColors.White, _ => { }));

        var found = ContentBounds.Find(image);

        Assert.Equal((20, 10), (found.Width, found.Height));
    }

    [Fact]
    public void An_input_made_from_a_region_equals_the_input_of_that_region_cut_out()
    {
        var area = new SKRect(50, 40, 150, 120);
        using var framed = Decode(Png(300, 200, SKColors.White, c => Stripes(c, area)));
        using var cut = Decode(Png(100, 80, SKColors.White, c => { c.Translate(-50, -40); Stripes(c, area); }));

        var fromRegion = EmbeddingInput.From(framed, 64, new PixelRegion(50, 40, 100, 80));
        var fromCut = EmbeddingInput.From(cut, 64);

        Assert.Equal(fromCut, fromRegion);
    }

    [Fact]
    public void A_picture_larger_than_the_512_grid_keeps_its_shape_and_gives_its_thumbnails_input()
    {
        // Two halves side by side: 1024×512 is held on the 512×512 grid, 256×128 as it is.
        static void Halves(SKCanvas canvas, float width, float height)
        {
            using var red = new SKPaint { Color = new SKColor(200, 30, 30) };
            using var blue = new SKPaint { Color = new SKColor(20, 40, 190) };
            canvas.DrawRect(0, 0, width / 2, height, red);
            canvas.DrawRect(width / 2, 0, width / 2, height, blue);
        }

        using var large = Decode(Png(1024, 512, SKColors.White, c => Halves(c, 1024, 512)));
        using var thumbnail = Decode(Png(256, 128, SKColors.White, c => Halves(c, 256, 128)));
        Assert.Equal((512, 512, 2.0), (large.Width, large.Height, large.SourceAspect));

        var fromLarge = EmbeddingInput.From(large, 64);
        var fromThumbnail = EmbeddingInput.From(thumbnail, 64);

        // 64×32 of picture between 16-row bands of background, as the thumbnail's.
        Assert.All(fromLarge.AsSpan(0, 64 * 16).ToArray(), v => Assert.Equal(128f, v));
        Assert.Equal(200f, fromLarge[(20 * 64) + 10]);
        Assert.Equal(fromThumbnail, fromLarge);
    }

    [Fact]
    public void A_region_outside_the_image_is_refused()
    {
        using var image = Decode(Png(100, 100, SKColors.White, _ => { }));

        Assert.Throws<ArgumentOutOfRangeException>(() => EmbeddingInput.From(image, 64, new PixelRegion(50, 50, 60, 10)));
    }

    /// <summary>
    /// Crossing stripes 2 pixels in from every edge: a picture with detail in every row and column of
    /// <paramref name="area"/>, its edges included (a uniform edge line would count as margin).
    /// </summary>
    private static void Stripes(SKCanvas canvas, SKRect area)
    {
        using var red = new SKPaint { Color = new SKColor(200, 30, 30) };
        using var blue = new SKPaint { Color = new SKColor(20, 40, 190) };
        canvas.DrawRect(area, red);
        for (var x = area.Left + 2; x + 6 <= area.Right; x += 8)
        {
            canvas.DrawRect(x, area.Top, 4, area.Height, blue);
        }

        for (var y = area.Top + 2; y + 5 <= area.Bottom; y += 10)
        {
            canvas.DrawRect(area.Left, y, area.Width, 3, blue);
        }
    }

    private static byte[] Png(int width, int height, SKColor background, Action<SKCanvas> draw)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(background);
            draw(canvas);
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static DecodedImage Decode(byte[] png)
    {
        using var encoded = EncodedImage.Open(png);
        return encoded.Decode(ImageHashMode.Exact);
    }
}

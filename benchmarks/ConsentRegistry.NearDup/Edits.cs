using SkiaSharp;

namespace ConsentRegistry.NearDup;

/// <summary>
/// The edit kinds applied to every original: the copies an artist would want found. Each takes the
/// decoded original and a seeded random source and returns a new image (the caller encodes it).
/// </summary>
public static class Edits
{
    public static readonly string[] Kinds =
        ["crop", "caption-border", "watermark", "colour-blur", "small-jpeg", "mirror-crop", "screenshot", "rotate"];

    private static readonly SKTypeface Font = LoadFont();

    /// <summary>Applies one kind; small-jpeg is resized here and encoded at low quality by the caller.</summary>
    public static SKBitmap Apply(string kind, SKBitmap src, Random rng) => kind switch
    {
        "crop" => Crop(src, rng, mirror: false),
        "caption-border" => CaptionBorder(src),
        "watermark" => Watermark(src),
        "colour-blur" => ColourBlur(src),
        "small-jpeg" => Resize(src, 256),
        "mirror-crop" => Crop(src, rng, mirror: true),
        "screenshot" => Screenshot(src),
        "rotate" => Rotate(src, rng),
        _ => throw new ArgumentException($"Unknown edit kind {kind}.", nameof(kind)),
    };

    /// <summary>JPEG quality used when writing an edit of this kind.</summary>
    public static int JpegQuality(string kind) => kind == "small-jpeg" ? 20 : 85;

    public static SKBitmap Resize(SKBitmap src, int width)
    {
        int height = Math.Max(1, (int)Math.Round(src.Height * (double)width / src.Width));
        return src.Resize(new SKImageInfo(width, height), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
    }

    /// <summary>The image drawn on white: no transparency left.</summary>
    public static SKBitmap Flatten(SKBitmap src) => Draw(src.Width, src.Height, c => c.DrawBitmap(src, 0, 0));

    private static SKBitmap Crop(SKBitmap src, Random rng, bool mirror)
    {
        double cut = 0.10 + rng.NextDouble() * 0.20;   // 10–30 % of the area removed
        double side = Math.Sqrt(1 - cut);
        int w = (int)(src.Width * side), h = (int)(src.Height * side);
        int x = rng.Next(src.Width - w + 1), y = rng.Next(src.Height - h + 1);
        return Draw(w, h, c =>
        {
            if (mirror) { c.Scale(-1, 1); c.Translate(-w, 0); }
            c.DrawBitmap(src, new SKRect(x, y, x + w, y + h), new SKRect(0, 0, w, h));
        });
    }

    private static SKBitmap CaptionBorder(SKBitmap src)
    {
        int pad = Math.Max(8, src.Width / 20), caption = Math.Max(24, src.Height / 8);
        int w = src.Width + 2 * pad, h = src.Height + 2 * pad + caption;
        return Draw(w, h, c =>
        {
            c.Clear(SKColors.White);
            c.DrawBitmap(src, pad, pad);
            using var font = new SKFont(Font, caption * 0.5f);
            using var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true };
            c.DrawText("Look what I found today! #art", pad, h - caption * 0.4f, font, paint);
        });
    }

    private static SKBitmap Watermark(SKBitmap src) => Draw(src.Width, src.Height, c =>
    {
        c.DrawBitmap(src, 0, 0);
        using var font = new SKFont(Font, src.Width / 8f);
        using var paint = new SKPaint { Color = new SKColor(255, 255, 255, 110), IsAntialias = true };
        using var box = new SKPaint { Color = new SKColor(0, 0, 0, 70) };
        c.DrawRect(src.Width * 0.05f, src.Height * 0.40f, src.Width * 0.9f, src.Width / 6f, box);
        c.DrawText("© STOCKPIX", src.Width * 0.08f, src.Height * 0.40f + src.Width / 8f, font, paint);
    });

    private static SKBitmap ColourBlur(SKBitmap src) => Draw(src.Width, src.Height, c =>
    {
        float[] matrix =
        [
            1.15f, 0.05f, 0, 0, 12 / 255f,
            0, 0.95f, 0.05f, 0, -6 / 255f,
            0.05f, 0, 0.85f, 0, 20 / 255f,
            0, 0, 0, 1, 0,
        ];
        using var paint = new SKPaint
        {
            ColorFilter = SKColorFilter.CreateColorMatrix(matrix),
            ImageFilter = SKImageFilter.CreateBlur(src.Width / 300f + 1.5f, src.Width / 300f + 1.5f),
        };
        c.DrawBitmap(src, 0, 0, paint);
    });

    private static SKBitmap Screenshot(SKBitmap src)
    {
        int bar = Math.Max(30, src.Height / 10), side = Math.Max(40, src.Width / 4);
        int w = src.Width + side, h = src.Height + 3 * bar;
        return Draw(w, h, c =>
        {
            c.Clear(new SKColor(245, 245, 245));
            using var dark = new SKPaint { Color = new SKColor(40, 44, 52) };
            using var grey = new SKPaint { Color = new SKColor(200, 200, 200) };
            using var text = new SKPaint { Color = SKColors.White, IsAntialias = true };
            using var font = new SKFont(Font, bar * 0.45f);
            c.DrawRect(0, 0, w, bar, dark);
            c.DrawText("Gallery — My feed    Home   Explore   Messages", bar * 0.3f, bar * 0.65f, font, text);
            for (int i = 0; i < 6; i++) c.DrawRect(src.Width + side * 0.1f, bar * (1.5f + i), side * 0.8f, bar * 0.5f, grey);
            c.DrawBitmap(src, 0, bar);
            c.DrawRect(0, h - 2 * bar, w, 2 * bar, dark);
            c.DrawText("♥ 1,204   💬 88   Share", bar * 0.3f, h - bar * 0.8f, font, text);
        });
    }

    private static SKBitmap Rotate(SKBitmap src, Random rng)
    {
        float degrees = (float)(5 + rng.NextDouble() * 5) * (rng.Next(2) == 0 ? -1 : 1);
        return Draw(src.Width, src.Height, c =>
        {
            c.Clear(SKColors.White);
            c.RotateDegrees(degrees, src.Width / 2f, src.Height / 2f);
            using var paint = new SKPaint { IsAntialias = true };
            c.DrawBitmap(src, 0, 0, paint);
        });
    }

    private static SKBitmap Draw(int w, int h, Action<SKCanvas> draw)
    {
        var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bmp);
        canvas.Clear(SKColors.White);
        draw(canvas);
        return bmp;
    }

    private static SKTypeface LoadFont()
    {
        string? file = Directory.Exists("/usr/share/fonts")
            ? Directory.EnumerateFiles("/usr/share/fonts", "*.ttf", SearchOption.AllDirectories).Order().FirstOrDefault()
            : null;
        return (file is null ? null : SKTypeface.FromFile(file)) ?? SKTypeface.Default;
    }
}

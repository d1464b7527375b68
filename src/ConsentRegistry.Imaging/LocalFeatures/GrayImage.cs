using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Imaging.LocalFeatures;

/// <summary>An 8-bit grey image, row by row, with no padding between rows.</summary>
public sealed class GrayImage
{
    public GrayImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (pixels.Length != width * height)
        {
            throw new ArgumentException($"Expected {width * height} pixels, got {pixels.Length}.", nameof(pixels));
        }

        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Width { get; }

    public int Height { get; }

    public byte[] Pixels { get; }

    public byte this[int x, int y] => Pixels[y * Width + x];

    /// <summary>
    /// The decoded picture in grey (Rec. 601 luma, any transparency already on white), scaled so its
    /// longer side is <paramref name="longSide"/> pixels in the shape it was encoded in (a picture held as
    /// the 512×512 grid of a larger one gets its shape back). Small pictures are scaled up too: the
    /// corner detector's patches are 31 pixels wide, so an icon of 60 would give it nothing.
    /// </summary>
    public static GrayImage From(DecodedImage image, int longSide)
    {
        var (width, height) = image.SourceAspect >= 1
            ? (longSide, Math.Max(1, (int)Math.Round(longSide / image.SourceAspect)))
            : (Math.Max(1, (int)Math.Round(longSide * image.SourceAspect)), longSide);
        var luma = new byte[image.Width * image.Height];
        var pixels = image.Pixels;
        for (var y = 0; y < image.Height; y++)
        {
            var row = pixels.Slice(y * image.StrideBytes);
            for (var x = 0; x < image.Width; x++)
            {
                luma[y * image.Width + x] = image.Format == PdqPixelFormat.Gray8
                    ? row[x]
                    : (byte)((299 * row[4 * x] + 587 * row[4 * x + 1] + 114 * row[4 * x + 2] + 500) / 1000);
            }
        }

        return new GrayImage(image.Width, image.Height, luma).Resized(width, height);
    }

    /// <summary>
    /// This image at another size: bilinear when growing, and when shrinking each output pixel the mean of the
    /// source pixels it covers (whole pixels), so fine lines are not lost between samples.
    /// </summary>
    public GrayImage Resized(int width, int height)
    {
        if (width == Width && height == Height)
        {
            return this;
        }

        var output = new byte[width * height];
        var sx = (double)Width / width;
        var sy = (double)Height / height;
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                output[y * width + x] = sx > 1 || sy > 1 ? Area(x * sx, y * sy, sx, sy) : Bilinear((x + 0.5) * sx - 0.5, (y + 0.5) * sy - 0.5, 255);
            }
        }

        return new GrayImage(width, height, output);
    }

    /// <summary>This image mirrored left to right.</summary>
    public GrayImage Mirrored()
    {
        var output = new byte[Pixels.Length];
        for (var y = 0; y < Height; y++)
        {
            for (var x = 0; x < Width; x++)
            {
                output[y * Width + x] = Pixels[y * Width + Width - 1 - x];
            }
        }

        return new GrayImage(Width, Height, output);
    }

    /// <summary>
    /// The value at a point between pixel centres, interpolated from the four around it; <paramref name="outside"/>
    /// beyond the image's edge pixels' centres by more than half a pixel.
    /// </summary>
    public byte Bilinear(double x, double y, byte outside)
    {
        if (x < -0.5 || y < -0.5 || x > Width - 0.5 || y > Height - 0.5)
        {
            return outside;
        }

        var cx = Math.Clamp(x, 0, Width - 1);
        var cy = Math.Clamp(y, 0, Height - 1);
        var x0 = (int)cx;
        var y0 = (int)cy;
        var x1 = Math.Min(x0 + 1, Width - 1);
        var y1 = Math.Min(y0 + 1, Height - 1);
        var fx = cx - x0;
        var fy = cy - y0;
        var top = this[x0, y0] * (1 - fx) + this[x1, y0] * fx;
        var bottom = this[x0, y1] * (1 - fx) + this[x1, y1] * fx;
        return (byte)Math.Round(top * (1 - fy) + bottom * fy);
    }

    private byte Area(double left, double top, double width, double height)
    {
        var x0 = (int)left;
        var y0 = (int)top;
        var x1 = Math.Clamp((int)Math.Ceiling(left + width), x0 + 1, Width);
        var y1 = Math.Clamp((int)Math.Ceiling(top + height), y0 + 1, Height);
        var sum = 0;
        for (var y = y0; y < y1; y++)
        {
            for (var x = x0; x < x1; x++)
            {
                sum += this[x, y];
            }
        }

        var count = (x1 - x0) * (y1 - y0);
        return (byte)((sum + count / 2) / count);
    }
}

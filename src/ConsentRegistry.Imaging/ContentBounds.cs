using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Imaging;

/// <summary>
/// Finds the picture inside uniform margins: a border, a mat, the blank canvas around a pasted
/// image. Rows and columns are trimmed from each side while nearly all their pixels are within a
/// tolerance of the colour at that side's corner, and again while that uncovers another margin, so
/// a copy framed by someone else and the original give the same region to an embedder.
/// </summary>
public static class ContentBounds
{
    /// <summary>Sum of the channel differences (0–765) under which a pixel counts as margin.</summary>
    private const int Tolerance = 48;

    /// <summary>Share of a row's or column's pixels that may differ from the margin colour (anti-aliasing, dust).</summary>
    private const double Stray = 0.01;

    /// <summary>A side keeps at least this share of the image, so a nearly blank image is left whole.</summary>
    private const double MinKept = 0.2;

    public static PixelRegion Find(DecodedImage image)
    {
        var pixels = image.Pixels;
        var top = 0;
        var bottom = image.Height;
        var left = 0;
        var right = image.Width;
        var minWidth = Math.Max(1, (int)(image.Width * MinKept));
        var minHeight = Math.Max(1, (int)(image.Height * MinKept));

        // Margins can nest (a title bar above a blank canvas): trim until a pass changes nothing.
        var changed = true;
        while (changed)
        {
            var before = (top, bottom, left, right);
            var colour = At(image, pixels, left, top);
            while (bottom - top > minHeight && RowIsMargin(image, pixels, top, left, right, colour)) top++;
            colour = At(image, pixels, left, bottom - 1);
            while (bottom - top > minHeight && RowIsMargin(image, pixels, bottom - 1, left, right, colour)) bottom--;
            colour = At(image, pixels, left, top);
            while (right - left > minWidth && ColumnIsMargin(image, pixels, left, top, bottom, colour)) left++;
            colour = At(image, pixels, right - 1, top);
            while (right - left > minWidth && ColumnIsMargin(image, pixels, right - 1, top, bottom, colour)) right--;
            changed = before != (top, bottom, left, right);
        }

        return new PixelRegion(left, top, right - left, bottom - top);
    }

    private static bool RowIsMargin(DecodedImage image, ReadOnlySpan<byte> pixels, int y, int from, int to, (int R, int G, int B) colour) =>
        IsMargin(image, pixels, y, from, to, row: true, colour);

    private static bool ColumnIsMargin(DecodedImage image, ReadOnlySpan<byte> pixels, int x, int from, int to, (int R, int G, int B) colour) =>
        IsMargin(image, pixels, x, from, to, row: false, colour);

    /// <summary>Whether pixels <paramref name="from"/> to <paramref name="to"/> of row (or column) <paramref name="at"/> are nearly all the margin colour.</summary>
    private static bool IsMargin(DecodedImage image, ReadOnlySpan<byte> pixels, int at, int from, int to, bool row, (int R, int G, int B) colour)
    {
        var allowed = (int)((to - from) * Stray);
        for (var i = from; i < to; i++)
        {
            var pixel = row ? At(image, pixels, i, at) : At(image, pixels, at, i);
            if (!Near(pixel, colour) && --allowed < 0)
            {
                return false;
            }
        }

        return true;
    }

    private static bool Near((int R, int G, int B) a, (int R, int G, int B) b) =>
        Math.Abs(a.R - b.R) + Math.Abs(a.G - b.G) + Math.Abs(a.B - b.B) <= Tolerance;

    private static (int R, int G, int B) At(DecodedImage image, ReadOnlySpan<byte> pixels, int x, int y)
    {
        if (image.Format == PdqPixelFormat.Gray8)
        {
            var v = pixels[(y * image.StrideBytes) + x];
            return (v, v, v);
        }

        var at = (y * image.StrideBytes) + (x * 4);
        return (pixels[at], pixels[at + 1], pixels[at + 2]);
    }
}

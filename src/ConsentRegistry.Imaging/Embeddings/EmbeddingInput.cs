using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Imaging.Embeddings;

/// <summary>
/// A decoded image as an embedder's input: 3 planes (R, G, B) of size×size samples, 0–255. The
/// picture is scaled to fit the square whole (area averaging when shrinking) and centred on a
/// mid-grey background, so its shape is kept rather than stretched: the shape it was encoded in
/// (<see cref="DecodedImage.SourceAspect"/>), also when a large picture is held on the 512×512
/// grid, so that a picture and its thumbnail give the same input.
/// </summary>
public static class EmbeddingInput
{
    private const float Background = 128f;

    public static float[] From(DecodedImage image, int size) => From(image, size, PixelRegion.Whole(image));

    /// <summary>As <see cref="From(DecodedImage, int)"/>, for the part of the image inside <paramref name="region"/>.</summary>
    public static float[] From(DecodedImage image, int size, PixelRegion region)
    {
        if (region.Width <= 0 || region.Height <= 0 || region.X < 0 || region.Y < 0
            || region.X + region.Width > image.Width || region.Y + region.Height > image.Height)
        {
            throw new ArgumentOutOfRangeException(nameof(region), $"{region} is not inside the {image.Width}×{image.Height} image.");
        }

        var planes = new float[3 * size * size];
        Array.Fill(planes, Background);
        // The region's width as the picture was encoded: the grid of a large picture is squeezed or
        // stretched across, by its aspect over the grid's.
        var encodedWidth = region.Width * image.SourceAspect * image.Height / image.Width;
        var scale = size / Math.Max(encodedWidth, region.Height);
        var width = Math.Clamp((int)Math.Round(encodedWidth * scale), 1, size);
        var height = Math.Clamp((int)Math.Round(region.Height * scale), 1, size);
        var left = (size - width) / 2;
        var top = (size - height) / 2;
        var pixels = image.Pixels;
        var bytesPerPixel = image.Format == PdqPixelFormat.Gray8 ? 1 : 4;
        var plane = size * size;

        for (var y = 0; y < height; y++)
        {
            var (y0, y1) = Span(y, height, region.Height, region.Y);
            for (var x = 0; x < width; x++)
            {
                var (x0, x1) = Span(x, width, region.Width, region.X);
                double r = 0, g = 0, b = 0;
                for (var sy = y0; sy < y1; sy++)
                {
                    var row = pixels.Slice(sy * image.StrideBytes);
                    for (var sx = x0; sx < x1; sx++)
                    {
                        var at = sx * bytesPerPixel;
                        if (bytesPerPixel == 1)
                        {
                            r += row[at];
                            g += row[at];
                            b += row[at];
                        }
                        else
                        {
                            r += row[at];
                            g += row[at + 1];
                            b += row[at + 2];
                        }
                    }
                }

                var count = (double)((y1 - y0) * (x1 - x0));
                var target = ((top + y) * size) + left + x;
                planes[target] = (float)(r / count);
                planes[plane + target] = (float)(g / count);
                planes[(2 * plane) + target] = (float)(b / count);
            }
        }

        return planes;
    }

    /// <summary>The source rows (or columns) behind target row <paramref name="i"/> of <paramref name="target"/>: at least one, from <paramref name="offset"/> on.</summary>
    private static (int From, int To) Span(int i, int target, int source, int offset)
    {
        var from = (int)((long)i * source / target);
        var to = (int)((long)(i + 1) * source / target);
        return (offset + from, offset + Math.Max(from + 1, to));
    }
}

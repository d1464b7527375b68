using System.Runtime.InteropServices;

namespace ConsentRegistry.Imaging;

/// <summary>
/// Samples decoded rows onto the grid that is hashed: output pixel (x, y) is source pixel
/// (⌊x·w / W⌋, ⌊y·h / H⌋), the nearest-neighbour pick of the reference loader's resize (and of
/// <c>PdqLuma</c>), so a sampled grid hashes exactly as the whole image would. Alpha is composited over white
/// on the way, for the sampled pixels only.
/// </summary>
internal sealed class GridSampler
{
    private readonly int[] _sourceColumns;
    private readonly int _sourceHeight;
    private readonly int _bytesPerPixel;
    private readonly bool _compositeAlpha;

    public GridSampler(int sourceWidth, int sourceHeight, int width, int height, int bytesPerPixel, bool compositeAlpha)
    {
        Width = width;
        Height = height;
        SourceAspect = (double)sourceWidth / sourceHeight;
        _sourceHeight = sourceHeight;
        _bytesPerPixel = bytesPerPixel;
        _compositeAlpha = compositeAlpha;
        _sourceColumns = new int[width];
        for (int x = 0; x < width; x++)
        {
            _sourceColumns[x] = width == sourceWidth ? x : (int)((double)x * sourceWidth / width);
        }
    }

    /// <summary>The source's width over its height: the picture's shape, which a 512×512 grid does not keep.</summary>
    public double SourceAspect { get; }

    public int Width { get; }

    public int Height { get; }

    public int RowBytes => Width * _bytesPerPixel;

    /// <summary>Whether sampled pixels are composited over white (RGBA with alpha that is not all opaque).</summary>
    public bool CompositesAlpha => _compositeAlpha;

    /// <summary>The source row that output row <paramref name="y"/> shows.</summary>
    public int SourceRow(int y) => Height == _sourceHeight ? y : (int)((double)y * _sourceHeight / Height);

    /// <summary>Fills one output row from the source row <see cref="SourceRow"/> names.</summary>
    public void SampleRow(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        int[] columns = _sourceColumns;
        if (_bytesPerPixel == 4)
        {
            var from = MemoryMarshal.Cast<byte, uint>(source);
            var to = MemoryMarshal.Cast<byte, uint>(destination[..RowBytes]);
            for (int x = 0; x < to.Length; x++)
            {
                to[x] = from[columns[x]];
            }

            if (_compositeAlpha)
            {
                CompositeOverWhite(destination[..RowBytes]);
            }
        }
        else
        {
            for (int x = 0; x < columns.Length; x++)
            {
                destination[x] = source[columns[x]];
            }
        }
    }

    /// <summary>Replaces each unpremultiplied RGBA pixel by its colour over a white background, alpha 255.</summary>
    public static void CompositeOverWhite(Span<byte> rgba)
    {
        for (int i = 0; i + 3 < rgba.Length; i += 4)
        {
            int a = rgba[i + 3];
            if (a == 255)
            {
                continue;
            }

            for (int c = 0; c < 3; c++)
            {
                rgba[i + c] = (byte)((rgba[i + c] * a + 255 * (255 - a) + 127) / 255);
            }

            rgba[i + 3] = 255;
        }
    }
}

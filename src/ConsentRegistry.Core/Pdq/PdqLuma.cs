namespace ConsentRegistry.Core.Pdq;

/// <summary>Luminance from 8-bit pixels, with the reference loader's nearest-neighbour resize.</summary>
internal static class PdqLuma
{
    // The reference's coefficients: double literals stored as float.
    private const float RCoeff = (float)0.299;
    private const float GCoeff = (float)0.587;
    private const float BCoeff = (float)0.114;

    // coeff * value for every byte value: the same single-precision products the reference computes per pixel.
    private static readonly float[] RTable = BuildTable(RCoeff);
    private static readonly float[] GTable = BuildTable(GCoeff);
    private static readonly float[] BTable = BuildTable(BCoeff);

    private static float[] BuildTable(float coeff)
    {
        var table = new float[256];
        for (int v = 0; v < 256; v++)
        {
            float f = v;
            table[v] = coeff * f;
        }

        return table;
    }

    /// <summary>
    /// Fills <paramref name="luma"/> (<paramref name="rows"/> × <paramref name="cols"/>, row-major) from the
    /// source image; when the sizes differ, output pixel (x, y) is source pixel
    /// (⌊x·width/cols⌋, ⌊y·height/rows⌋), as CImg's nearest-neighbour resize picks it.
    /// </summary>
    public static void Fill(
        ReadOnlySpan<byte> pixels,
        int width,
        int height,
        int strideBytes,
        PdqPixelFormat format,
        int bytesPerPixel,
        Span<float> luma,
        int cols,
        int rows)
    {
        Span<int> xOffsets = cols <= 1024 ? stackalloc int[cols] : new int[cols];
        for (int x = 0; x < cols; x++)
        {
            int sx = cols == width ? x : (int)((double)x * width / cols);
            xOffsets[x] = sx * bytesPerPixel;
        }

        (int r, int g, int b) = format switch
        {
            PdqPixelFormat.Bgra32 => (2, 1, 0),
            _ => (0, 1, 2),
        };

        float[] rt = RTable, gt = GTable, bt = BTable;
        for (int y = 0; y < rows; y++)
        {
            int sy = rows == height ? y : (int)((double)y * height / rows);
            ReadOnlySpan<byte> row = pixels.Slice(sy * strideBytes);
            Span<float> outRow = luma.Slice(y * cols, cols);
            if (format == PdqPixelFormat.Gray8)
            {
                for (int x = 0; x < outRow.Length; x++)
                {
                    outRow[x] = row[xOffsets[x]];
                }
            }
            else
            {
                for (int x = 0; x < outRow.Length; x++)
                {
                    int o = xOffsets[x];
                    outRow[x] = rt[row[o + r]] + gt[row[o + g]] + bt[row[o + b]];
                }
            }
        }
    }
}

using System.Buffers;

namespace ConsentRegistry.Core.Pdq;

/// <summary>
/// PDQ perceptual hashing, bit-for-bit as Meta's reference photo hasher (<c>pdq-photo-hasher</c>) computes it
/// from decoded pixels. Thread-safe; scratch buffers come from <see cref="ArrayPool{T}.Shared"/>.
/// </summary>
/// <remarks>
/// <para>Pipeline, as in the reference: an image wider or taller than 512 pixels is first resized to
/// exactly 512×512 by nearest-neighbour sampling (what the reference's image loader does); luminance
/// Y = 0.299 R + 0.587 G + 0.114 B in single precision (grey images use the grey level); two passes of
/// Jarosz box filters along rows then columns, with windows ⌈dimension / 128⌉; decimation to 64×64 at
/// pixel centres; the quality from the 64×64 gradients; the 16×16 low-frequency block of the DCT; and one
/// bit per coefficient, set when it is greater than the median of the 256 (Torben's algorithm).</para>
/// <para>An image under 5 pixels in a dimension (after that resize) hashes to zero with quality 0.</para>
/// <para>EXIF orientation is not applied by the reference: hash the pixels as stored.</para>
/// </remarks>
public static class PdqHasher
{
    /// <summary>Images smaller than this in either dimension hash to <see cref="PdqHash.Zero"/>.</summary>
    public const int MinDimension = 5;

    /// <summary>
    /// The reference's loader resizes an image with a side over this to this many pixels square
    /// (nearest neighbour) before hashing.
    /// </summary>
    public const int ResizeDimension = 512;

    /// <summary>Hashes 8-bit pixel data.</summary>
    /// <param name="pixels">Rows of pixels, row 0 first; row r starts at byte r·<paramref name="strideBytes"/>.</param>
    /// <param name="width">Pixels in a row.</param>
    /// <param name="height">Rows.</param>
    /// <param name="strideBytes">Bytes from the start of one row to the next (at least width × bytes a pixel).</param>
    /// <param name="format">How a pixel is laid out; alpha, when present, is ignored.</param>
    public static PdqResult Hash(
        ReadOnlySpan<byte> pixels, int width, int height, int strideBytes, PdqPixelFormat format = PdqPixelFormat.Rgb24)
    {
        Span<PdqHash> hash = stackalloc PdqHash[1];
        int quality = HashPixels(pixels, width, height, strideBytes, format, hash);
        return new PdqResult(hash[0], quality);
    }

    /// <summary>
    /// Hashes 8-bit pixel data and the image's 7 other dihedral variants (rotations and flips), from one DCT.
    /// </summary>
    /// <inheritdoc cref="Hash(ReadOnlySpan{byte}, int, int, int, PdqPixelFormat)"/>
    public static PdqDihedral HashDihedral(
        ReadOnlySpan<byte> pixels, int width, int height, int strideBytes, PdqPixelFormat format = PdqPixelFormat.Rgb24)
    {
        var hashes = new PdqHash[PdqDihedral.Count];
        int quality = HashPixels(pixels, width, height, strideBytes, format, hashes);
        return new PdqDihedral(hashes, quality);
    }

    /// <summary>
    /// Hashes a luminance image (row-major, <paramref name="width"/> values a row, usually 0 to 255) as the
    /// reference's <c>pdqHash256FromFloatLuma</c> does: no 512×512 resize first (that is the pixel loader's
    /// step), and a 64×64 input is used as the 64×64 downsample as it is.
    /// </summary>
    public static PdqResult HashLuma(ReadOnlySpan<float> luma, int width, int height)
    {
        Span<PdqHash> hash = stackalloc PdqHash[1];
        int quality = HashLumaCore(luma, width, height, hash);
        return new PdqResult(hash[0], quality);
    }

    /// <summary>
    /// The 8 dihedral hashes of a luminance image, as the reference's <c>pdqDihedralHash256esFromFloatLuma</c>
    /// (which, unlike <see cref="HashLuma"/>, filters a 64×64 input too).
    /// </summary>
    public static PdqDihedral HashLumaDihedral(ReadOnlySpan<float> luma, int width, int height)
    {
        var hashes = new PdqHash[PdqDihedral.Count];
        int quality = HashLumaCore(luma, width, height, hashes);
        return new PdqDihedral(hashes, quality);
    }

    private static int HashPixels(
        ReadOnlySpan<byte> pixels, int width, int height, int strideBytes, PdqPixelFormat format, Span<PdqHash> output)
    {
        int bytesPerPixel = format switch
        {
            PdqPixelFormat.Rgb24 => 3,
            PdqPixelFormat.Rgba32 or PdqPixelFormat.Bgra32 => 4,
            PdqPixelFormat.Gray8 => 1,
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown pixel format."),
        };
        ValidateDimensions(width, height);
        if ((long)width * bytesPerPixel > strideBytes)
        {
            throw new ArgumentOutOfRangeException(
                nameof(strideBytes), strideBytes, $"A row of {width} pixels of {format} needs {(long)width * bytesPerPixel} bytes.");
        }

        if (width > 0 && height > 0 && (long)strideBytes * (height - 1) + (long)width * bytesPerPixel > pixels.Length)
        {
            throw new ArgumentException(
                $"{width}×{height} pixels with a stride of {strideBytes} bytes need more than the {pixels.Length} given.",
                nameof(pixels));
        }

        // The reference loader's nearest-neighbour resize of large images to 512×512.
        bool resize = width > ResizeDimension || height > ResizeDimension;
        int cols = resize ? ResizeDimension : width;
        int rows = resize ? ResizeDimension : height;
        if (rows < MinDimension || cols < MinDimension)
        {
            output.Clear();
            return 0;
        }

        int n = rows * cols;
        float[] buffer1 = ArrayPool<float>.Shared.Rent(n);
        float[] buffer2 = ArrayPool<float>.Shared.Rent(n);
        try
        {
            PdqLuma.Fill(pixels, width, height, strideBytes, format, bytesPerPixel, buffer1.AsSpan(0, n), cols, rows);
            return PdqCore.HashFromLuma(buffer1, buffer2, rows, cols, output);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer2);
            ArrayPool<float>.Shared.Return(buffer1);
        }
    }

    private static int HashLumaCore(ReadOnlySpan<float> luma, int width, int height, Span<PdqHash> output)
    {
        ValidateDimensions(width, height);
        long n = (long)width * height;
        if (luma.Length < n)
        {
            throw new ArgumentException($"{width}×{height} luminance values need more than the {luma.Length} given.", nameof(luma));
        }

        if (width < MinDimension || height < MinDimension)
        {
            output.Clear();
            return 0;
        }

        if (n > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(width), "The image is too large.");
        }

        float[] buffer1 = ArrayPool<float>.Shared.Rent((int)n);
        float[] buffer2 = ArrayPool<float>.Shared.Rent((int)n);
        try
        {
            luma[..(int)n].CopyTo(buffer1);
            return PdqCore.HashFromLuma(buffer1, buffer2, height, width, output);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer2);
            ArrayPool<float>.Shared.Return(buffer1);
        }
    }

    private static void ValidateDimensions(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        ArgumentOutOfRangeException.ThrowIfNegative(height);
    }
}

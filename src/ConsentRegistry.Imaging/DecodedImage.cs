using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Imaging;

/// <summary>
/// 8-bit pixels ready for <see cref="PdqHasher"/>: grey images as one grey channel, everything else as RGBA with any
/// alpha already composited over white. An image larger than 512 pixels in a side is held as the 512×512
/// nearest-neighbour grid the reference hasher would sample from it, not in full. Dispose it to recycle the buffer.
/// </summary>
public sealed class DecodedImage : IDisposable
{
    private byte[]? _pixels;

    internal DecodedImage(byte[] pixels, int width, int height, int strideBytes, PdqPixelFormat format, double? sourceAspect = null)
    {
        _pixels = pixels;
        Width = width;
        Height = height;
        SourceAspect = sourceAspect ?? (double)width / height;
        StrideBytes = strideBytes;
        Format = format;
    }

    /// <summary>Pixels in a row of <see cref="Pixels"/>.</summary>
    public int Width { get; }

    /// <summary>Rows in <see cref="Pixels"/>.</summary>
    public int Height { get; }

    /// <summary>
    /// The picture's width over its height as encoded: <see cref="Width"/> over <see cref="Height"/>,
    /// unless the pixels are the 512×512 grid of a larger picture, whose shape they no longer show.
    /// </summary>
    public double SourceAspect { get; }

    /// <summary>Bytes from one row to the next.</summary>
    public int StrideBytes { get; }

    /// <summary><see cref="PdqPixelFormat.Gray8"/> or <see cref="PdqPixelFormat.Rgba32"/>.</summary>
    public PdqPixelFormat Format { get; }

    /// <summary>The rows, row 0 first.</summary>
    public ReadOnlySpan<byte> Pixels =>
        (_pixels ?? throw new ObjectDisposedException(nameof(DecodedImage))).AsSpan(0, StrideBytes * Height);

    /// <summary>The PDQ hash and quality of the pixels.</summary>
    public PdqResult Hash() => PdqHasher.Hash(Pixels, Width, Height, StrideBytes, Format);

    /// <summary>The PDQ hashes of the 8 rotations and mirror images of the pixels, and their quality.</summary>
    public PdqDihedral HashDihedral() => PdqHasher.HashDihedral(Pixels, Width, Height, StrideBytes, Format);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _pixels, null) is { } pixels)
        {
            PixelBuffers.Return(pixels);
        }
    }
}

namespace ConsentRegistry.Imaging;

/// <summary>What an uploaded image may cost: bytes on the wire and pixels once decoded (docs/pdq.md).</summary>
public static class ImageLimits
{
    /// <summary>The largest image file accepted (50 MiB); a larger upload gets 413.</summary>
    public const int MaxBytes = 50 * 1024 * 1024;

    /// <summary>Room for the multipart framing around the file in the request body limit.</summary>
    public const int MultipartOverheadBytes = 64 * 1024;

    /// <summary>
    /// The most pixels (width × height, read from the header before anything is decoded) an image may have;
    /// more is refused with 422 as a likely decompression bomb.
    /// </summary>
    public const long MaxPixels = 100_000_000;

    /// <summary>
    /// The most pixels of a GIF or interlaced PNG (decoded whole, large ones rare or forged); more is refused. A WebP
    /// over it is decoded at a reduced scale that fits. 64 MB at 4 bytes a pixel.
    /// </summary>
    public const long MaxWholeDecodePixels = 16_000_000;

    /// <summary>
    /// The most a decoder may buffer of the whole image beside the pixels (a progressive JPEG's coefficients): as much
    /// as the largest whole decode, a non-interlaced PNG of <see cref="MaxPixels"/> at 4 bytes a pixel. A progressive
    /// JPEG at 4:2:0 reaches it at 133 MP (past the pixel limit), at 4:4:4 at 66 MP.
    /// </summary>
    public const long MaxDecoderBufferBytes = MaxPixels * 4;
}

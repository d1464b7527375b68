namespace ConsentRegistry.Api.Images;

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
    /// Images with more pixels than this decode one at a time: their decoder buffers can reach 4 bytes a pixel
    /// (400 MB at <see cref="MaxPixels"/>), so a burst of them must not run side by side.
    /// </summary>
    public const long LargePixels = 16_000_000;
}

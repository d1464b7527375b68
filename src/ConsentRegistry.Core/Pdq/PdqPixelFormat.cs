namespace ConsentRegistry.Core.Pdq;

/// <summary>Layouts of 8-bit pixel data that <see cref="PdqHasher"/> reads.</summary>
public enum PdqPixelFormat
{
    /// <summary>3 bytes a pixel: R, G, B.</summary>
    Rgb24,

    /// <summary>4 bytes a pixel: R, G, B, A. Alpha is ignored: composite it (over white) first.</summary>
    Rgba32,

    /// <summary>4 bytes a pixel: B, G, R, A. Alpha is ignored: composite it (over white) first.</summary>
    Bgra32,

    /// <summary>
    /// 1 byte a pixel, grey level used as the luminance directly. Meta's reference hashes greyscale
    /// images (grey PNG, grey JPEG) this way; passing them as RGB moves the hash by a few bits.
    /// </summary>
    Gray8,
}

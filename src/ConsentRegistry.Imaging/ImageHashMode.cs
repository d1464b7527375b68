namespace ConsentRegistry.Imaging;

/// <summary>How faithfully an image is decoded before it is hashed.</summary>
public enum ImageHashMode
{
    /// <summary>Every pixel the reference hasher reads is decoded as it would decode it: the reference's hash.</summary>
    Exact,

    /// <summary>
    /// Large JPEG and WebP images are decoded at a reduced scale (1/2, 1/4 or 1/8) first: several times faster,
    /// and within a few bits of the exact hash (docs/pdq.md has the measured distances).
    /// </summary>
    Fast,
}

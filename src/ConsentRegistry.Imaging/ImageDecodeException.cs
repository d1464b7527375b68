namespace ConsentRegistry.Imaging;

/// <summary>Why an upload could not be decoded.</summary>
public enum ImageDecodeError
{
    /// <summary>Zero bytes.</summary>
    Empty,

    /// <summary>Not a JPEG, PNG, WebP, GIF or BMP file.</summary>
    UnsupportedFormat,

    /// <summary>The header claims more than <see cref="ImageLimits.MaxPixels"/> pixels.</summary>
    TooManyPixels,

    /// <summary>
    /// The header declares more pixels than a file of its size could hold, or a JPEG has more scans than encoders write
    /// (docs/pdq.md, "Limits").
    /// </summary>
    Implausible,

    /// <summary>The file starts like an image but its data is invalid.</summary>
    Corrupt,

    /// <summary>The file ends before the image does.</summary>
    Truncated,
}

/// <summary>An image that cannot be hashed, and why; the message is safe to show to the client.</summary>
public sealed class ImageDecodeException(ImageDecodeError error, string message) : Exception(message)
{
    public ImageDecodeError Error { get; } = error;
}

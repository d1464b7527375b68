namespace ConsentRegistry.Imaging;

/// <summary>
/// The formats the registry hashes, recognised by their signatures before any decoder sees the bytes (so a
/// format the decoder library happens to know, or guesses from a weak signature, is not accepted by accident).
/// </summary>
public static class ImageFormats
{
    public const string Jpeg = "jpeg";
    public const string Png = "png";
    public const string WebP = "webp";
    public const string Gif = "gif";
    public const string Bmp = "bmp";

    /// <summary>The format named by the file's first bytes, or null when it is none of the five.</summary>
    public static string? Sniff(ReadOnlySpan<byte> bytes) => bytes switch
    {
        [0xFF, 0xD8, 0xFF, ..] => Jpeg,
        [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Png,
        [(byte)'R', (byte)'I', (byte)'F', (byte)'F', _, _, _, _, (byte)'W', (byte)'E', (byte)'B', (byte)'P', ..] => WebP,
        [(byte)'G', (byte)'I', (byte)'F', (byte)'8', (byte)'7' or (byte)'9', (byte)'a', ..] => Gif,
        [(byte)'B', (byte)'M', ..] => Bmp,
        _ => null,
    };
}

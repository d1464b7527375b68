using System.Buffers.Binary;

namespace ConsentRegistry.Imaging;

/// <summary>
/// Refuses, from the header alone, an image that declares more pixels than its file could hold: every format has a
/// best case for how many pixels one byte of compressed data can describe, so a small file declaring a huge canvas
/// is truncated, or relies on skips and fill (RLE deltas, a GIF canvas around a tiny frame) to make the decoder
/// allocate a canvas it never paints. The bounds and their arithmetic are in docs/pdq.md ("Limits").
/// </summary>
internal static class ImagePlausibility
{
    /// <summary>DEFLATE's best case: a 258-byte match coded in 2 bits (1-bit length and distance codes).</summary>
    public const int DeflateMaxRatio = 1032;

    /// <summary>GIF: an LZW code of at least 12 bits stands for at most 4,096 pixels once strings get that long.</summary>
    public const int GifPixelsPerByte = 4096 * 8 / 12;

    /// <summary>
    /// BMP RLE4/RLE8/RLE24: an encoded run of 2 bytes (4 in RLE24) paints at most 255 pixels (deltas and end-of-line
    /// skips paint none).
    /// </summary>
    public const double BmpRlePixelsPerByte = 255 / 2.0;

    /// <summary>JPEG: every 8×8 block costs at least one bit (its DC code), so a grey image holds at most 512 pixels a byte.</summary>
    public const int JpegPixelsPerByte = 64 * 8;

    /// <summary>Lossy WebP: a 16×16 macroblock costs at least 2 bits (its luma and chroma prediction modes).</summary>
    public const int WebPLossyPixelsPerByte = 256 * 8 / 2;

    /// <summary>
    /// Lossless WebP can code a flat image in no bits a pixel, so its bound is policy, not arithmetic: 4,096 pixels a
    /// byte still lets a flat 12-megapixel image in at 3 KB.
    /// </summary>
    public const int WebPLosslessPixelsPerByte = 4096;

    /// <summary>A GIF canvas may exceed its largest frame this many times over, and any canvas up to <see cref="GifFreeCanvasPixels"/>.</summary>
    public const int GifCanvasPerFrame = 16;

    /// <summary>A GIF canvas this small (4 MB decoded) is accepted whatever its frames.</summary>
    public const long GifFreeCanvasPixels = 1_000_000;

    /// <summary>Throws <see cref="ImageDecodeError.Implausible"/> when <paramref name="file"/> cannot hold a <paramref name="width"/>×<paramref name="height"/> image.</summary>
    public static void Check(ReadOnlySpan<byte> file, string format, int width, int height)
    {
        long pixels = (long)width * height;
        long bytes = file.Length;
        switch (format)
        {
            case ImageFormats.Png:
                CheckPng(file, width, height);
                break;
            case ImageFormats.Gif:
                CheckGif(file, width, height);
                break;
            case ImageFormats.Bmp:
                CheckBmp(file, pixels);
                break;
            case ImageFormats.Jpeg:
                Require(pixels <= JpegPixelsPerByte * bytes, pixels, bytes, "JPEG", JpegPixelsPerByte);
                break;
            case ImageFormats.WebP:
                int perByte = IsLosslessWebP(file) ? WebPLosslessPixelsPerByte : WebPLossyPixelsPerByte;
                Require(pixels <= perByte * bytes, pixels, bytes, "WebP", perByte);
                break;
        }
    }

    private static void CheckPng(ReadOnlySpan<byte> file, int width, int height)
    {
        // IHDR is the first chunk (the codec has checked it): bit depth at 24, colour type at 25.
        if (file.Length < 29)
        {
            return;
        }

        int channels = file[25] switch { 2 => 3, 4 => 2, 6 => 4, _ => 1 };
        long rowBytes = 1 + ((long)width * file[24] * channels + 7) / 8; // the filter byte, then the packed samples
        long raw = rowBytes * height; // an interlaced image has more filter bytes, never fewer
        if (raw > (long)DeflateMaxRatio * file.Length)
        {
            throw Implausible($"The PNG declares {width}×{height} pixels ({raw:N0} bytes of image data) in a {file.Length:N0}-byte file; "
                + $"DEFLATE cannot compress more than {DeflateMaxRatio}:1, so the file is truncated or forged.");
        }
    }

    private static void CheckGif(ReadOnlySpan<byte> file, int width, int height)
    {
        long canvas = (long)width * height;
        long largestFrame = LargestGifFrame(file); // 0 when there is none, or only empty ones
        if (canvas > GifFreeCanvasPixels && canvas > GifCanvasPerFrame * largestFrame)
        {
            throw Implausible($"The GIF's canvas is {width}×{height} pixels but its largest frame has {largestFrame:N0}; "
                + $"a canvas over {GifFreeCanvasPixels:N0} pixels may be at most {GifCanvasPerFrame} times its largest frame.");
        }

        Require(largestFrame <= (long)GifPixelsPerByte * file.Length, largestFrame, file.Length, "GIF frame", GifPixelsPerByte);
    }

    /// <summary>The pixels of the largest frame (image descriptor) in a GIF, 0 when none is found before the data ends.</summary>
    internal static long LargestGifFrame(ReadOnlySpan<byte> file)
    {
        if (file.Length < 13)
        {
            return 0;
        }

        int at = 13;
        if ((file[10] & 0x80) != 0)
        {
            at += 3 << ((file[10] & 7) + 1); // global colour table
        }

        long largest = 0;
        while (at < file.Length)
        {
            switch (file[at])
            {
                case 0x2C when at + 10 <= file.Length: // image descriptor
                    long frame = (long)BinaryPrimitives.ReadUInt16LittleEndian(file[(at + 5)..]) * BinaryPrimitives.ReadUInt16LittleEndian(file[(at + 7)..]);
                    largest = Math.Max(largest, frame);
                    byte packed = file[at + 9];
                    at += 10;
                    if ((packed & 0x80) != 0)
                    {
                        at += 3 << ((packed & 7) + 1); // local colour table
                    }

                    at = SkipSubBlocks(file, at + 1); // after the LZW minimum code size
                    break;
                case 0x21: // extension: label, then sub-blocks
                    at = SkipSubBlocks(file, at + 2);
                    break;
                default: // trailer, or something the decoder will judge
                    return largest;
            }
        }

        return largest;
    }

    private static int SkipSubBlocks(ReadOnlySpan<byte> file, int at)
    {
        while (at < file.Length && file[at] != 0)
        {
            at += file[at] + 1;
        }

        return at + 1;
    }

    private static void CheckBmp(ReadOnlySpan<byte> file, long pixels)
    {
        if (file.Length < 34)
        {
            return;
        }

        int headerSize = BinaryPrimitives.ReadInt32LittleEndian(file[14..]);
        if (headerSize < 40)
        {
            int coreBits = Math.Max(1, (int)BinaryPrimitives.ReadUInt16LittleEndian(file[24..]));
            Require(pixels * coreBits <= 8L * file.Length, pixels, file.Length, "uncompressed BMP", 8.0 / coreBits);
            return;
        }

        int bits = Math.Max(1, (int)BinaryPrimitives.ReadUInt16LittleEndian(file[28..]));
        uint compression = BinaryPrimitives.ReadUInt32LittleEndian(file[30..]);
        if (compression is 1 or 2 or 4) // RLE8, RLE4, and RLE24 in an OS/2 2.x header (Skia decodes it)
        {
            Require(pixels <= BmpRlePixelsPerByte * file.Length, pixels, file.Length, "RLE BMP", BmpRlePixelsPerByte);
        }
        else if (compression is 0 or 3 or 6) // uncompressed (BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS): the pixels are in the file
        {
            Require(pixels * bits <= 8L * file.Length, pixels, file.Length, "uncompressed BMP", 8.0 / bits);
        }
    }

    private static bool IsLosslessWebP(ReadOnlySpan<byte> file)
    {
        // RIFF chunks from offset 12: "VP8 " (lossy), "VP8L" (lossless), or "VP8X" followed by others.
        int at = 12;
        while (at + 8 <= file.Length)
        {
            var fourcc = file.Slice(at, 4);
            if (fourcc.SequenceEqual("VP8L"u8))
            {
                return true;
            }

            if (fourcc.SequenceEqual("VP8 "u8))
            {
                return false;
            }

            uint size = BinaryPrimitives.ReadUInt32LittleEndian(file[(at + 4)..]);
            if (size > int.MaxValue - 9 - at)
            {
                break;
            }

            at += 8 + (int)((size + 1) & ~1u);
        }

        return false;
    }

    private static void Require(bool plausible, long pixels, long bytes, string what, double perByte)
    {
        if (!plausible)
        {
            throw Implausible($"The {what} declares {pixels:N0} pixels in a {bytes:N0}-byte file; the format cannot hold more than "
                + $"{perByte:0.###} pixels a byte, so the file is truncated or forged.");
        }
    }

    private static ImageDecodeException Implausible(string message) => new(ImageDecodeError.Implausible, message);
}

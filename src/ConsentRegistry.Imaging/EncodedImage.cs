using ConsentRegistry.Core.Pdq;
using SkiaSharp;

namespace ConsentRegistry.Imaging;

/// <summary>
/// An image file whose header has been read (format, dimensions, EXIF orientation) and nothing decoded yet, so
/// that a decompression bomb is refused before it costs memory. Decodes as Meta's reference loader sees an image:
/// grey images as grey, everything else as RGB with alpha composited over white, no colour management, no EXIF
/// orientation (docs/pdq.md). Not thread-safe: decode one image on one thread.
/// </summary>
public sealed class EncodedImage : IDisposable
{
    /// <summary>Larger images are hashed from this many pixels square, sampled as the reference samples them.</summary>
    public const int GridSize = PdqHasher.ResizeDimension;

    /// <summary>
    /// Fast mode picks the smallest reduced JPEG/WebP decode whose shorter side keeps at least this many pixels:
    /// each decoded pixel then covers at most about 2.5 cells of the 512 grid, which keeps the hash within a few
    /// bits of the exact one (docs/pdq.md).
    /// </summary>
    public const int FastMinSide = 200;

    private static readonly float[] FastScales = [0.125f, 0.25f, 0.5f];
    private static readonly float[] WholeScales = [0.5f, 0.25f, 0.125f];

    private readonly SKData _data;
    private readonly SKCodec _codec;
    private readonly bool _decodesByRows;
    private readonly long _decoderBufferBytes;

    private EncodedImage(SKData data, SKCodec codec, string format, bool decodesByRows, long decoderBufferBytes)
    {
        _data = data;
        _codec = codec;
        Format = format;
        Width = codec.Info.Width;
        Height = codec.Info.Height;
        _decodesByRows = decodesByRows;
        _decoderBufferBytes = decoderBufferBytes;
        ExifOrientation = codec.EncodedOrigin is >= SKEncodedOrigin.TopLeft and <= SKEncodedOrigin.LeftBottom
            ? (int)codec.EncodedOrigin
            : 1;
    }

    /// <summary><see cref="ImageFormats.Jpeg"/>, <see cref="ImageFormats.Png"/>, …</summary>
    public string Format { get; }

    /// <summary>Pixels in a row, as stored.</summary>
    public int Width { get; }

    /// <summary>Rows, as stored.</summary>
    public int Height { get; }

    /// <summary>The EXIF orientation tag (1 to 8, 1 when absent). Recorded, never applied.</summary>
    public int ExifOrientation { get; }

    /// <summary>Reads the header of a copy of <paramref name="bytes"/>.</summary>
    /// <exception cref="ImageDecodeException">Empty, not a supported format, corrupt header, or too many pixels.</exception>
    public static EncodedImage Open(ReadOnlySpan<byte> bytes)
    {
        Check(bytes);
        return Open(SKData.CreateCopy(bytes));
    }

    /// <summary>Reads the header of <paramref name="data"/>, which the image then owns (and disposes).</summary>
    /// <exception cref="ImageDecodeException">Empty, not a supported format, corrupt header, or too many pixels.</exception>
    public static EncodedImage Open(SKData data)
    {
        SKCodec? codec = null;
        try
        {
            string format = Check(data.AsSpan());
            codec = SKCodec.Create(data)
                ?? throw new ImageDecodeException(ImageDecodeError.Corrupt, $"The file starts like a {format.ToUpperInvariant()} image but its header is invalid.");
            CheckHeader(codec, format);
            var bytes = data.AsSpan();
            ImagePlausibility.Check(bytes, format, codec.Info.Width, codec.Info.Height);
            bool byRows = DecodesByRows(format);
            var jpeg = format == ImageFormats.Jpeg ? JpegScans.Read(bytes) : default;
            if (jpeg.Count > JpegScans.MaxScans)
            {
                throw new ImageDecodeException(ImageDecodeError.Implausible,
                    $"The JPEG has {jpeg.Count:N0} scans; at most {JpegScans.MaxScans} are decoded (encoders write far fewer), so the file is forged.");
            }

            // Camera-sized progressive JPEGs are common, unlike large interlaced PNGs: the coefficients are bounded like the
            // largest whole decode rather than refused over 16 MP.
            if (jpeg.CoefficientBytes > ImageLimits.MaxDecoderBufferBytes)
            {
                throw new ImageDecodeException(ImageDecodeError.TooManyPixels,
                    $"The image is {codec.Info.Width}×{codec.Info.Height} pixels; a progressive JPEG's decoder holds all its coefficients, "
                    + $"{jpeg.CoefficientBytes / 1_000_000:N0} MB here, and at most {ImageLimits.MaxDecoderBufferBytes / 1_000_000:N0} MB are allowed.");
            }

            string? wholeKind = DecodedWholeKind(bytes, format);
            if (wholeKind is not null && (long)codec.Info.Width * codec.Info.Height > ImageLimits.MaxWholeDecodePixels)
            {
                throw new ImageDecodeException(ImageDecodeError.TooManyPixels,
                    $"The image is {codec.Info.Width}×{codec.Info.Height} pixels; {wholeKind} images "
                    + $"are decoded whole, so at most {ImageLimits.MaxWholeDecodePixels:N0} pixels.");
            }

            long decoderBuffer = wholeKind == "interlaced PNG" ? InterlaceBufferBytes(bytes, codec.Info) : jpeg.CoefficientBytes;
            return new EncodedImage(data, codec, format, byRows, decoderBuffer);
        }
        catch
        {
            codec?.Dispose();
            data.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The size the decoder produces in <paramref name="mode"/>: the stored size, or in fast mode the reduced scale
    /// it picked (the result is then still sampled onto the 512×512 grid).
    /// </summary>
    public (int Width, int Height) DecodedSize(ImageHashMode mode)
    {
        var size = DecodeSize(mode);
        return (size.Width, size.Height);
    }

    /// <summary>
    /// The mode the hash is really computed in: <see cref="ImageHashMode.Fast"/> when a WebP image too large to
    /// decode whole (over <see cref="ImageLimits.MaxWholeDecodePixels"/>) is decoded at a reduced scale in exact mode.
    /// </summary>
    public ImageHashMode DecodedMode(ImageHashMode mode) =>
        mode == ImageHashMode.Exact && DecodeSize(mode) != new SKSizeI(Width, Height) ? ImageHashMode.Fast : mode;

    /// <summary>
    /// The most bytes of pixels the decode holds at once: the whole image when its decoder cannot deliver rows
    /// (PNG, GIF, WebP, or anything within the 512 grid), else one row and the 512×512 grid; and what the decoder
    /// buffers of the whole image on top (a progressive JPEG's coefficients, whatever the scale or rows wanted; an
    /// interlaced PNG's rows as libpng delivers them).
    /// </summary>
    public long DecodeBytes(ImageHashMode mode)
    {
        var size = DecodeSize(mode);
        int bytesPerPixel = _codec.Info.ColorType == SKColorType.Gray8 ? 1 : 4;
        bool onGrid = Width > GridSize || Height > GridSize;
        long pixels = onGrid && _decodesByRows
            ? (long)bytesPerPixel * (size.Width + GridSize * GridSize)
            : (long)bytesPerPixel * size.Width * size.Height + (onGrid ? bytesPerPixel * GridSize * GridSize : 0);
        return pixels + _decoderBufferBytes;
    }

    /// <summary>
    /// Decodes the pixels to hash. <see cref="ImageHashMode.Exact"/> gives the reference's pixels (and so its
    /// hash); <see cref="ImageHashMode.Fast"/> decodes large JPEG and WebP images at a reduced scale first.
    /// </summary>
    /// <exception cref="ImageDecodeException">The image data is corrupt or truncated.</exception>
    public DecodedImage Decode(ImageHashMode mode = ImageHashMode.Exact)
    {
        var size = DecodeSize(mode);
        bool gray = _codec.Info.ColorType == SKColorType.Gray8;
        var info = gray
            ? new SKImageInfo(size.Width, size.Height, SKColorType.Gray8, SKAlphaType.Opaque)
            : new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var format = gray ? PdqPixelFormat.Gray8 : PdqPixelFormat.Rgba32;

        // The reference resizes anything larger than 512 in a side to 512×512 before hashing; a reduced decode is
        // sampled onto that same grid, so its hash differs only by what the reduction blurred.
        bool onGrid = Width > GridSize || Height > GridSize;
        var sampler = new GridSampler(
            info.Width, info.Height, onGrid ? GridSize : info.Width, onGrid ? GridSize : info.Height,
            info.BytesPerPixel, compositeAlpha: !gray && _codec.Info.AlphaType != SKAlphaType.Opaque);

        if (onGrid && _decodesByRows)
        {
            // Reserved for rows, so refused when its rows cannot start: decoded whole, it would hold the whole image
            // unreserved (and read a progressive JPEG through a second time only to fail again).
            GridDecoder.Check(_codec.StartScanlineDecode(info), Format);
            return GridDecoder.DecodeScanlines(_codec, info, sampler, format, Format, bottomUp: _codec.ScanlineOrder == SKCodecScanlineOrder.BottomUp);
        }

        return GridDecoder.DecodeWhole(_codec, info, sampler, format, Format, onGrid);
    }

    public void Dispose()
    {
        _codec.Dispose();
        _data.Dispose();
    }

    private static string Check(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            throw new ImageDecodeException(ImageDecodeError.Empty, "The file is empty.");
        }

        return ImageFormats.Sniff(bytes)
            ?? throw new ImageDecodeException(ImageDecodeError.UnsupportedFormat, "The file is not a JPEG, PNG, WebP, GIF or BMP image.");
    }

    private static void CheckHeader(SKCodec codec, string format)
    {
        if (!string.Equals(codec.EncodedFormat.ToString(), format, StringComparison.OrdinalIgnoreCase))
        {
            throw new ImageDecodeException(ImageDecodeError.Corrupt, $"The file starts like a {format.ToUpperInvariant()} image but is not one.");
        }

        var (width, height) = (codec.Info.Width, codec.Info.Height);
        if (width <= 0 || height <= 0)
        {
            throw new ImageDecodeException(ImageDecodeError.Corrupt, "The image header gives no size.");
        }

        if ((long)width * height > ImageLimits.MaxPixels)
        {
            throw new ImageDecodeException(ImageDecodeError.TooManyPixels,
                $"The image is {width}×{height} pixels; at most {ImageLimits.MaxPixels:N0} pixels are decoded.");
        }
    }

    /// <summary>
    /// JPEG and BMP deliver rows (top down, or bottom up for most BMPs); PNG (SkiaSharp's PNG codec answers
    /// Unimplemented to a scanline decode), GIF and WebP only whole images.
    /// </summary>
    private static bool DecodesByRows(string format) => format is ImageFormats.Jpeg or ImageFormats.Bmp;

    /// <summary>
    /// Formats decoded whole at up to 4 bytes a pixel whose large images are rare or forged: GIF (its canvas) and
    /// interlaced PNG (interlacing is for showing small web images early). Null for the others.
    /// </summary>
    private static string? DecodedWholeKind(ReadOnlySpan<byte> bytes, string format) => format switch
    {
        ImageFormats.Gif => "GIF",
        ImageFormats.Png when bytes.Length > 28 && bytes[28] != 0 => "interlaced PNG", // IHDR interlace method
        _ => null,
    };

    /// <summary>
    /// The copy of the whole image Skia's interlaced PNG decoder fills, pass by pass, before converting it into the
    /// destination: libpng's rows after Skia's transforms (samples under 8 bits widened to a byte, alpha added for a
    /// tRNS chunk, 16-bit samples kept).
    /// </summary>
    private static long InterlaceBufferBytes(ReadOnlySpan<byte> png, SKImageInfo info)
    {
        byte bitDepth = png[24], colourType = png[25];
        int samples = colourType switch { 2 => 3, 4 => 2, 6 => 4, _ => 1 }
            + (colourType is 0 or 2 && info.AlphaType != SKAlphaType.Opaque ? 1 : 0);
        return (long)info.Width * info.Height * samples * (bitDepth == 16 ? 2 : 1);
    }

    private SKSizeI DecodeSize(ImageHashMode mode)
    {
        var size = mode == ImageHashMode.Fast ? FastDecodeSize() : new SKSizeI(Width, Height);
        if (Format == ImageFormats.WebP && (long)size.Width * size.Height > ImageLimits.MaxWholeDecodePixels)
        {
            // WebP decodes whole but scales while decoding: the largest reduced size within the whole-decode limit.
            foreach (float scale in WholeScales)
            {
                var scaled = _codec.GetScaledDimensions(scale);
                if ((long)scaled.Width * scaled.Height <= ImageLimits.MaxWholeDecodePixels)
                {
                    return scaled;
                }
            }
        }

        return size;
    }

    private SKSizeI FastDecodeSize()
    {
        if (Width > GridSize || Height > GridSize)
        {
            foreach (float scale in FastScales)
            {
                // JPEG decodes at 1/2, 1/4 or 1/8 in its DCT; WebP scales while decoding; other formats answer their full size.
                var size = _codec.GetScaledDimensions(scale);
                if (Math.Min(size.Width, size.Height) >= FastMinSide && size.Width < Width && size.Height < Height)
                {
                    return size;
                }
            }
        }

        return new SKSizeI(Width, Height);
    }
}

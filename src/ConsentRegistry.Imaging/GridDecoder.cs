using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using ConsentRegistry.Core.Pdq;
using SkiaSharp;

namespace ConsentRegistry.Imaging;

/// <summary>
/// Runs a codec into pooled pixel buffers: whole, or row by row onto the grid of a <see cref="GridSampler"/>, so that
/// a large image never needs a buffer of its full size when its decoder can deliver rows.
/// </summary>
internal static class GridDecoder
{
    /// <summary>
    /// Decodes only the rows the grid samples, one at a time (JPEG: the others are skipped, not converted), in the
    /// order the codec delivers them: top down, or bottom up (BMP).
    /// </summary>
    public static DecodedImage DecodeScanlines(SKCodec codec, SKImageInfo info, GridSampler sampler, PdqPixelFormat format, string formatName, bool bottomUp)
    {
        byte[] row = PixelBuffers.Rent(info.RowBytes);
        byte[] grid = PixelBuffers.Rent((long)sampler.RowBytes * sampler.Height);
        var pin = GCHandle.Alloc(row, GCHandleType.Pinned);
        try
        {
            int next = 0, current = -1;
            for (int i = 0; i < sampler.Height; i++)
            {
                int y = bottomUp ? sampler.Height - 1 - i : i;
                int wanted = bottomUp ? info.Height - 1 - sampler.SourceRow(y) : sampler.SourceRow(y); // in delivery order
                if (wanted != current)
                {
                    if (wanted > next && !codec.SkipScanlines(wanted - next))
                    {
                        throw Truncated(formatName);
                    }

                    if (codec.GetScanlines(pin.AddrOfPinnedObject(), 1, info.RowBytes) != 1)
                    {
                        throw Truncated(formatName);
                    }

                    next = wanted + 1;
                    current = wanted;
                }

                sampler.SampleRow(row.AsSpan(0, info.RowBytes), grid.AsSpan(y * sampler.RowBytes, sampler.RowBytes));
            }

            return new DecodedImage(grid, sampler.Width, sampler.Height, sampler.RowBytes, format, sampler.SourceAspect);
        }
        catch
        {
            PixelBuffers.Return(grid);
            throw;
        }
        finally
        {
            pin.Free();
            PixelBuffers.Return(row);
        }
    }

    /// <summary>
    /// Decodes the whole image, then samples it onto the grid when <paramref name="onGrid"/>. An image within the grid
    /// is decoded into a pooled buffer that the result keeps; a larger one into an anonymous memory mapping, unmapped
    /// (and so given back to the system) as soon as the grid is sampled, never into the managed heap.
    /// </summary>
    public static DecodedImage DecodeWhole(SKCodec codec, SKImageInfo info, GridSampler sampler, PdqPixelFormat format, string formatName, bool onGrid)
    {
        return onGrid ? DecodeWholeOntoGrid(codec, info, sampler, format, formatName) : DecodeWholeKept(codec, info, sampler, format, formatName);
    }

    private static DecodedImage DecodeWholeKept(SKCodec codec, SKImageInfo info, GridSampler sampler, PdqPixelFormat format, string formatName)
    {
        byte[] pixels = PixelBuffers.Rent(info.BytesSize64);
        bool keep = false;
        try
        {
            var pin = GCHandle.Alloc(pixels, GCHandleType.Pinned);
            try
            {
                Check(codec.GetPixels(info, pin.AddrOfPinnedObject()), formatName);
            }
            finally
            {
                pin.Free();
            }

            if (sampler.CompositesAlpha)
            {
                GridSampler.CompositeOverWhite(pixels.AsSpan(0, (int)info.BytesSize64));
            }

            keep = true;
            return new DecodedImage(pixels, info.Width, info.Height, info.RowBytes, format);
        }
        finally
        {
            if (!keep)
            {
                PixelBuffers.Return(pixels);
            }
        }
    }

    private static DecodedImage DecodeWholeOntoGrid(SKCodec codec, SKImageInfo info, GridSampler sampler, PdqPixelFormat format, string formatName)
    {
        // An anonymous mapping, not malloc: glibc keeps freed blocks of a few to 32 MB in its per-thread arenas, so
        // a burst of whole decodes would leave the process that much larger; an unmapped view is gone at once.
        using var mapping = MemoryMappedFile.CreateNew(null, info.BytesSize64, MemoryMappedFileAccess.ReadWrite);
        using var view = mapping.CreateViewAccessor(0, info.BytesSize64, MemoryMappedFileAccess.ReadWrite);
        var handle = view.SafeMemoryMappedViewHandle;
        bool added = false;
        byte[] row = PixelBuffers.Rent(info.RowBytes);
        try
        {
            handle.DangerousAddRef(ref added);
            nint pixels = handle.DangerousGetHandle() + (nint)view.PointerOffset;
            Check(codec.GetPixels(info, pixels), formatName);
            byte[] grid = PixelBuffers.Rent((long)sampler.RowBytes * sampler.Height);
            for (int y = 0; y < sampler.Height; y++)
            {
                Marshal.Copy(pixels + (nint)((long)sampler.SourceRow(y) * info.RowBytes), row, 0, info.RowBytes);
                sampler.SampleRow(row.AsSpan(0, info.RowBytes), grid.AsSpan(y * sampler.RowBytes, sampler.RowBytes));
            }

            return new DecodedImage(grid, sampler.Width, sampler.Height, sampler.RowBytes, format, sampler.SourceAspect);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }

            PixelBuffers.Return(row);
        }
    }

    /// <summary>Throws the decode error for a codec result other than success: truncated for incomplete input, else corrupt.</summary>
    public static void Check(SKCodecResult result, string formatName)
    {
        if (result != SKCodecResult.Success)
        {
            throw result == SKCodecResult.IncompleteInput
                ? Truncated(formatName)
                : new ImageDecodeException(ImageDecodeError.Corrupt, $"The {formatName.ToUpperInvariant()} data is invalid ({result}).");
        }
    }

    private static ImageDecodeException Truncated(string formatName) =>
        new(ImageDecodeError.Truncated, $"The {formatName.ToUpperInvariant()} file ends before the image does.");
}

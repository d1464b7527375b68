using System.Buffers;

namespace ConsentRegistry.Imaging;

/// <summary>
/// Pixel buffers: pooled up to a few megabytes (the 512×512 grid and ordinary photos), allocated fresh above, so
/// that the pool never keeps a rare 400 MB buffer alive.
/// </summary>
internal static class PixelBuffers
{
    private const int MaxPooledBytes = 8 * 1024 * 1024;

    public static byte[] Rent(long bytes)
    {
        if (bytes > Array.MaxLength)
        {
            throw new ImageDecodeException(ImageDecodeError.TooManyPixels, "The decoded image would not fit in memory.");
        }

        return bytes <= MaxPooledBytes
            ? ArrayPool<byte>.Shared.Rent((int)bytes)
            : GC.AllocateUninitializedArray<byte>((int)bytes);
    }

    public static void Return(byte[] buffer)
    {
        if (buffer.Length <= MaxPooledBytes)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

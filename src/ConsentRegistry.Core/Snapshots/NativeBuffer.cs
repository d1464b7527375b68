using System.Runtime.InteropServices;

namespace ConsentRegistry.Core.Snapshots;

/// <summary>
/// Bytes outside the managed heap, for what a native library serialises into a snapshot or loads
/// from one (an approximate vector index: hundreds of megabytes, more than an array may hold).
/// </summary>
public sealed unsafe class NativeBuffer : IDisposable
{
    private byte* _bytes;

    public NativeBuffer(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        _bytes = (byte*)NativeMemory.Alloc((nuint)Math.Max(1, length));
    }

    public long Length { get; }

    /// <summary>The first byte; valid until the buffer is disposed.</summary>
    public byte* Pointer => _bytes != null ? _bytes : throw new ObjectDisposedException(nameof(NativeBuffer));

    /// <summary>Up to <paramref name="length"/> bytes from <paramref name="offset"/>.</summary>
    public Span<byte> Slice(long offset, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, Length);
        return new Span<byte>(Pointer + offset, (int)Math.Min(length, Length - offset));
    }

    public void Dispose()
    {
        NativeMemory.Free(_bytes);
        _bytes = null;
    }
}

using System.Buffers;

namespace ConsentRegistry.Cli.Http;

/// <summary>
/// A growable byte buffer from the shared array pool, for request and response bodies of a
/// megabyte or more per chunk of rows: new arrays of that size would each be a large-object
/// allocation, and the garbage collector's work dominated the online filter's profile.
/// </summary>
internal sealed class PooledBuffer(int initialSize) : IBufferWriter<byte>, IDisposable
{
    private byte[] _array = ArrayPool<byte>.Shared.Rent(Math.Max(initialSize, 256));
    private int _written;

    public ReadOnlyMemory<byte> WrittenMemory => _array.AsMemory(0, _written);

    public ReadOnlySpan<byte> WrittenSpan => _array.AsSpan(0, _written);

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _array.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _array.AsSpan(_written);
    }

    /// <summary>
    /// Appends all of <paramref name="body"/>; false, as soon as it is known, when that is more than
    /// <paramref name="max"/> bytes (an answer with no end would otherwise grow until memory runs out).
    /// </summary>
    public async Task<bool> ReadToEndAsync(BodyReader body, int max)
    {
        var start = _written;
        int read;
        do
        {
            read = await body.ReadAsync(GetMemory(64 * 1024));
            _written += read;
            if (_written - start > max)
            {
                return false;
            }
        }
        while (read > 0);

        return true;
    }

    private void Reserve(int sizeHint)
    {
        if (_array.Length - _written >= Math.Max(sizeHint, 1))
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_array.Length * 2, _written + sizeHint));
        WrittenSpan.CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_array);
        _array = bigger;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_array);
        _array = [];
    }
}

using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace ConsentRegistry.Core.Snapshots;

/// <summary>
/// Writes an index snapshot file (docs/snapshot-format.md): a 64-byte header, then named sections,
/// each its payload length, the payload and the payload's XXH3-64, then the <c>end</c> section.
/// Every value is little-endian and every payload field starts on an 8-byte boundary.
/// </summary>
public sealed class SnapshotWriter : IDisposable
{
    private const int ChunkBytes = 1 << 22;

    private readonly FileStream _file;
    private readonly XxHash3 _sectionHash = new();
    private long _lengthAt = -1;
    private long _payloadStart;
    private long _arrayLeft = -1; // elements an array written in parts still owes; -1: none open
    private long _arrayBytes;
    private int _arrayElementBytes;

    /// <summary>Creates <paramref name="path"/> (which must not exist) and writes its header.</summary>
    public SnapshotWriter(string path, SnapshotHeader header)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Snapshots are written on little-endian machines only.");
        }

        _file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
        Span<byte> bytes = stackalloc byte[SnapshotHeader.Size];
        header.Write(bytes);
        _file.Write(bytes);
    }

    /// <summary>Starts a section; fields follow, then <see cref="EndSection"/>.</summary>
    public void BeginSection(string name)
    {
        if (_lengthAt >= 0)
        {
            throw new InvalidOperationException("A section is still open.");
        }

        var nameBytes = Encoding.ASCII.GetBytes(name);
        Span<byte> head = stackalloc byte[8];
        head.Clear();
        head[0] = (byte)nameBytes.Length;
        _file.Write(head[..1]);
        _file.Write(nameBytes);
        Pad(1 + nameBytes.Length, hash: false);
        _lengthAt = _file.Position;
        _file.Write(head); // the payload length, written when the section ends
        _payloadStart = _file.Position;
        _sectionHash.Reset();
    }

    public void EndSection()
    {
        var length = _file.Position - _payloadStart;
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, _sectionHash.GetCurrentHashAsUInt64());
        _file.Write(bytes);
        var end = _file.Position;
        _file.Position = _lengthAt;
        BinaryPrimitives.WriteInt64LittleEndian(bytes, length);
        _file.Write(bytes);
        _file.Position = end;
        _lengthAt = -1;
    }

    public void WriteInt64(long value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        Payload(bytes);
    }

    /// <summary>An array field: its element count (8 bytes), its elements, padding to 8 bytes.</summary>
    public void WriteArray<T>(ReadOnlySpan<T> items)
        where T : unmanaged
    {
        WriteInt64(items.Length);
        WriteElements(items);
        Pad((long)items.Length * Unsafe.SizeOf<T>(), hash: true);
    }

    /// <summary>
    /// Starts an array field of <paramref name="count"/> elements that follow in parts
    /// (<see cref="WriteArrayPart{T}"/>), then <see cref="EndArray"/>: the same bytes as
    /// <see cref="WriteArray{T}"/>, for a column longer than one array may be.
    /// </summary>
    public void BeginArray<T>(long count)
        where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_arrayLeft >= 0)
        {
            throw new InvalidOperationException("An array is still open.");
        }

        WriteInt64(count);
        _arrayElementBytes = Unsafe.SizeOf<T>();
        _arrayBytes = checked(count * _arrayElementBytes);
        _arrayLeft = count;
    }

    /// <summary>The next elements of the array that <see cref="BeginArray{T}"/> started.</summary>
    public void WriteArrayPart<T>(ReadOnlySpan<T> items)
        where T : unmanaged
    {
        if (_arrayLeft < 0 || Unsafe.SizeOf<T>() != _arrayElementBytes || items.Length > _arrayLeft)
        {
            throw new InvalidOperationException("The part does not belong to an open array, or runs past its count.");
        }

        WriteElements(items);
        _arrayLeft -= items.Length;
    }

    /// <summary>Ends the array that <see cref="BeginArray{T}"/> started, once all its elements are written.</summary>
    public void EndArray()
    {
        if (_arrayLeft != 0)
        {
            throw new InvalidOperationException(_arrayLeft < 0 ? "No array is open." : $"The array still owes {_arrayLeft} elements.");
        }

        Pad(_arrayBytes, hash: true);
        _arrayLeft = -1;
    }

    /// <summary>A field of bytes held outside the managed heap, laid out as an array of bytes.</summary>
    public void WriteBytes(NativeBuffer bytes)
    {
        WriteInt64(bytes.Length);
        for (long at = 0; at < bytes.Length; at += ChunkBytes)
        {
            Payload(bytes.Slice(at, ChunkBytes));
        }

        Pad(bytes.Length, hash: true);
    }

    /// <summary>A string field: its UTF-8 bytes as an array.</summary>
    public void WriteString(string value) => WriteArray<byte>(Encoding.UTF8.GetBytes(value));

    /// <summary>Writes the closing <c>end</c> section and makes the file durable.</summary>
    public void Finish()
    {
        BeginSection(SnapshotHeader.EndSection);
        EndSection();
        _file.Flush(flushToDisk: true);
    }

    public void Dispose() => _file.Dispose();

    private void WriteElements<T>(ReadOnlySpan<T> items)
        where T : unmanaged
    {
        var elementsPerChunk = Math.Max(1, ChunkBytes / Unsafe.SizeOf<T>());
        for (long at = 0; at < items.Length; at += elementsPerChunk) // long: an int would wrap past 2^31 on the last chunk of an array near Array.MaxLength
        {
            Payload(MemoryMarshal.AsBytes(items.Slice((int)at, (int)Math.Min(elementsPerChunk, items.Length - at))));
        }
    }

    private void Payload(ReadOnlySpan<byte> bytes)
    {
        _sectionHash.Append(bytes);
        _file.Write(bytes);
    }

    private void Pad(long written, bool hash)
    {
        var padding = (int)((8 - (written & 7)) & 7);
        if (padding == 0)
        {
            return;
        }

        Span<byte> zeros = stackalloc byte[8];
        zeros.Clear();
        if (hash)
        {
            Payload(zeros[..padding]);
        }
        else
        {
            _file.Write(zeros[..padding]);
        }
    }
}

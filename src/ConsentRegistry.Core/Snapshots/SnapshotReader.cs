using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace ConsentRegistry.Core.Snapshots;

/// <summary>
/// Reads an index snapshot file written by <see cref="SnapshotWriter"/>, in the order it was
/// written, straight into the arrays the index keeps: each array is read in large sequential
/// reads and hashed on the way, and a section's XXH3-64 is checked when it ends, so a flipped
/// byte anywhere, a short file or a missing <c>end</c> section is a <see cref="SnapshotFormatException"/>.
/// </summary>
public sealed class SnapshotReader : IDisposable
{
    private const int ChunkBytes = 1 << 22;

    private readonly FileStream _file;
    private readonly XxHash3 _sectionHash = new();
    private long _payloadEnd = -1;
    private long _arrayLeft = -1; // elements an array read in parts still holds; -1: none open
    private long _arrayBytes;
    private int _arrayElementBytes;

    /// <summary>Opens <paramref name="path"/> and reads its header (<see cref="Header"/>); checks the format version.</summary>
    public SnapshotReader(string path)
    {
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20, FileOptions.SequentialScan);
        try
        {
            Span<byte> bytes = stackalloc byte[SnapshotHeader.Size];
            ReadExactly(bytes);
            Header = SnapshotHeader.Read(bytes);
            if (Header.FormatVersion != SnapshotHeader.CurrentFormat)
            {
                throw new SnapshotFormatException($"The snapshot is of format version {Header.FormatVersion}; this build reads version {SnapshotHeader.CurrentFormat}.");
            }
        }
        catch
        {
            _file.Dispose();
            throw;
        }
    }

    public SnapshotHeader Header { get; }

    /// <summary>
    /// When true, arrays over 1 MiB that <see cref="ReadArray{T}"/> reads go to the pinned-object
    /// heap instead of the large-object heap. The collector sizes its budget for large objects by
    /// what survives there, so an index of hundreds of MB read into it lets the process's working
    /// arrays pile up by a like amount between collections; an index kept for the process's life
    /// never needs moving. The price is more frequent full collections. For a process that reads an
    /// index once and then only works against it (the command-line filter: 70-90 MiB less at its
    /// peak for 5-30 % more time, decision record 16); the service, whose index is rebuilt and
    /// merged as claims arrive, leaves it off.
    /// </summary>
    public bool PinLargeArrays { get; init; }

    private const int PinnedArrayBytes = 1 << 20;

    /// <summary>Reads the next section's name and length; it must be <paramref name="name"/>.</summary>
    public void BeginSection(string name)
    {
        Span<byte> head = stackalloc byte[256];
        ReadExactly(head[..1]);
        var nameLength = head[0];
        var padded = (1 + nameLength + 7) & ~7;
        ReadExactly(head[1..padded]);
        var found = Encoding.ASCII.GetString(head.Slice(1, nameLength));
        if (head[(1 + nameLength)..padded].ContainsAnyExcept((byte)0))
        {
            throw new SnapshotFormatException($"The padding after the section name '{found}' is not zero.");
        }

        if (found != name)
        {
            throw new SnapshotFormatException($"Expected the section '{name}', found '{found}'.");
        }

        Span<byte> length = stackalloc byte[8];
        ReadExactly(length);
        var payload = BinaryPrimitives.ReadInt64LittleEndian(length);
        if (payload < 0 || payload > _file.Length - _file.Position - 8)
        {
            throw new SnapshotFormatException($"The section '{name}' runs past the end of the file.");
        }

        _payloadEnd = _file.Position + payload;
        _sectionHash.Reset();
    }

    /// <summary>Checks that the section was read to its end and that its checksum matches.</summary>
    public void EndSection()
    {
        if (_file.Position != _payloadEnd)
        {
            throw new SnapshotFormatException("A section's length does not match its fields.");
        }

        Span<byte> bytes = stackalloc byte[8];
        ReadExactly(bytes);
        if (BinaryPrimitives.ReadUInt64LittleEndian(bytes) != _sectionHash.GetCurrentHashAsUInt64())
        {
            throw new SnapshotFormatException("A section's checksum does not match: the file is corrupt.");
        }

        _payloadEnd = -1;
    }

    /// <summary>Reads through the next section, <paramref name="name"/>, checking its checksum but keeping nothing of it.</summary>
    public void SkipSection(string name)
    {
        BeginSection(name);
        var buffer = new byte[(int)Math.Min(ChunkBytes, Math.Max(1, _payloadEnd - _file.Position))];
        while (_file.Position < _payloadEnd)
        {
            Payload(buffer.AsSpan(0, (int)Math.Min(buffer.Length, _payloadEnd - _file.Position)));
        }

        EndSection();
    }

    /// <summary>Reads the closing <c>end</c> section; the file must end there.</summary>
    public void ReadEnd()
    {
        BeginSection(SnapshotHeader.EndSection);
        EndSection();
        if (_file.Position != _file.Length)
        {
            throw new SnapshotFormatException("The snapshot has bytes after its end section.");
        }
    }

    public long ReadInt64()
    {
        Span<byte> bytes = stackalloc byte[8];
        Payload(bytes);
        return BinaryPrimitives.ReadInt64LittleEndian(bytes);
    }

    /// <summary>A non-negative count or number no larger than <paramref name="max"/>.</summary>
    public int ReadCount(int max = int.MaxValue)
    {
        var value = ReadInt64();
        return value < 0 || value > max
            ? throw new SnapshotFormatException($"A count of {value} is out of range (0 to {max}).")
            : (int)value;
    }

    /// <summary>An array field written by <see cref="SnapshotWriter.WriteArray{T}"/>.</summary>
    public T[] ReadArray<T>(int max = int.MaxValue)
        where T : unmanaged
    {
        var count = ReadCount(Math.Min(max, Array.MaxLength)); // a longer count is no array .NET can hold: a format error, not an OutOfMemoryException
        var size = Unsafe.SizeOf<T>();
        if ((long)count * size > _payloadEnd - _file.Position)
        {
            throw new SnapshotFormatException("An array runs past the end of its section.");
        }

        var items = GC.AllocateUninitializedArray<T>(count, pinned: PinLargeArrays && (long)count * size > PinnedArrayBytes);
        ReadElements<T>(items);
        SkipPadding((long)count * size);
        return items;
    }

    /// <summary>
    /// Starts reading an array field in parts (<see cref="ReadArrayPart{T}"/>, then
    /// <see cref="EndArray"/>), for a column longer than one array may be; returns its element
    /// count, which must be at most <paramref name="max"/>.
    /// </summary>
    public long BeginArray<T>(long max = long.MaxValue)
        where T : unmanaged
    {
        if (_arrayLeft >= 0)
        {
            throw new InvalidOperationException("An array is still open.");
        }

        var count = ReadInt64();
        var size = Unsafe.SizeOf<T>();
        if (count < 0 || count > max)
        {
            throw new SnapshotFormatException($"A count of {count} is out of range (0 to {max}).");
        }

        if (count > (_payloadEnd - _file.Position) / size)
        {
            throw new SnapshotFormatException("An array runs past the end of its section.");
        }

        _arrayElementBytes = size;
        _arrayBytes = count * size;
        _arrayLeft = count;
        return count;
    }

    /// <summary>Fills <paramref name="into"/> with the next elements of the array that <see cref="BeginArray{T}"/> started.</summary>
    public void ReadArrayPart<T>(Span<T> into)
        where T : unmanaged
    {
        if (_arrayLeft < 0 || Unsafe.SizeOf<T>() != _arrayElementBytes || into.Length > _arrayLeft)
        {
            throw new InvalidOperationException("The part does not belong to an open array, or runs past its count.");
        }

        ReadElements(into);
        _arrayLeft -= into.Length;
    }

    /// <summary>Ends the array that <see cref="BeginArray{T}"/> started, once all its elements are read.</summary>
    public void EndArray()
    {
        if (_arrayLeft != 0)
        {
            throw new InvalidOperationException(_arrayLeft < 0 ? "No array is open." : $"The array still holds {_arrayLeft} elements.");
        }

        SkipPadding(_arrayBytes);
        _arrayLeft = -1;
    }

    /// <summary>An array of bytes written by <see cref="SnapshotWriter.WriteBytes"/> (or as an array), read outside the managed heap.</summary>
    public NativeBuffer ReadBytes()
    {
        var count = ReadInt64();
        if (count < 0 || count > _payloadEnd - _file.Position)
        {
            throw new SnapshotFormatException("An array runs past the end of its section.");
        }

        var bytes = new NativeBuffer(count);
        try
        {
            for (long at = 0; at < count; at += ChunkBytes)
            {
                Payload(bytes.Slice(at, ChunkBytes));
            }

            SkipPadding(count);
            return bytes;
        }
        catch
        {
            bytes.Dispose();
            throw;
        }
    }

    public string ReadString(int maxBytes = 1 << 20)
    {
        var bytes = ReadArray<byte>(maxBytes);
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new SnapshotFormatException("A string is not UTF-8.");
        }
    }

    public void Dispose() => _file.Dispose();

    private void Payload(Span<byte> into)
    {
        if (_payloadEnd < 0 || _file.Position + into.Length > _payloadEnd)
        {
            throw new SnapshotFormatException("A field runs past the end of its section.");
        }

        ReadExactly(into);
        _sectionHash.Append(into);
    }

    private void ReadElements<T>(Span<T> into)
        where T : unmanaged
    {
        var elementsPerChunk = Math.Max(1, ChunkBytes / Unsafe.SizeOf<T>());
        for (long at = 0; at < into.Length; at += elementsPerChunk) // long: an int would wrap past 2^31 on the last chunk of an array near Array.MaxLength
        {
            Payload(MemoryMarshal.AsBytes(into.Slice((int)at, (int)Math.Min(elementsPerChunk, into.Length - at))));
        }
    }

    private void SkipPadding(long written)
    {
        var padding = (int)((8 - (written & 7)) & 7);
        Span<byte> bytes = stackalloc byte[8];
        Payload(bytes[..padding]);
    }

    private void ReadExactly(Span<byte> into)
    {
        try
        {
            _file.ReadExactly(into);
        }
        catch (EndOfStreamException)
        {
            throw new SnapshotFormatException("The snapshot file ends early: it is incomplete.");
        }
    }
}

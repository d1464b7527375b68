using System.Buffers.Binary;
using System.IO.Hashing;

namespace ConsentRegistry.Core.Snapshots;

/// <summary>
/// The first 64 bytes of an index snapshot file (docs/snapshot-format.md): the magic, the format
/// version, the identity of the store it was taken from, the log seq it reflects, when it was
/// written, and an XXH3-64 of the bytes before it.
/// </summary>
public readonly record struct SnapshotHeader(int FormatVersion, Guid StoreId, long Seq, DateTimeOffset Created)
{
    /// <summary>
    /// The format this code writes and reads. Version 5: a derived entry of a <c>domain</c> claim
    /// holds <c>signed</c> trust (version 4 repeated the claim's, which no reader may count).
    /// </summary>
    public const int CurrentFormat = 5;

    public const int Size = 64;

    /// <summary>The name of the last section, whose payload is empty: a file without it is incomplete.</summary>
    public const string EndSection = "end";

    /// <summary>The Unix times in milliseconds that a <see cref="DateTimeOffset"/> holds (years 1 to 9999).</summary>
    private static readonly long EarliestCreated = DateTimeOffset.MinValue.ToUnixTimeMilliseconds();

    private static readonly long LatestCreated = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    private static ReadOnlySpan<byte> Magic => "CRINDEX\0"u8;

    /// <summary>The store id as 16 bytes in the order of its text form (RFC 9562).</summary>
    public void Write(Span<byte> bytes)
    {
        bytes[..Size].Clear();
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteInt32LittleEndian(bytes[8..], FormatVersion);
        StoreId.TryWriteBytes(bytes[16..32], bigEndian: true, out _);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[32..], Seq);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[40..], Created.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[56..], XxHash3.HashToUInt64(bytes[..56]));
    }

    /// <summary>Reads a header; throws <see cref="SnapshotFormatException"/> for anything that is not one.</summary>
    public static SnapshotHeader Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Size || !bytes[..8].SequenceEqual(Magic))
        {
            throw new SnapshotFormatException("Not an index snapshot (no CRINDEX magic).");
        }

        if (BinaryPrimitives.ReadUInt64LittleEndian(bytes[56..]) != XxHash3.HashToUInt64(bytes[..56]))
        {
            throw new SnapshotFormatException("The snapshot header's checksum does not match.");
        }

        return new SnapshotHeader(
            BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]),
            new Guid(bytes[16..32], bigEndian: true),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[32..]),
            ReadCreated(BinaryPrimitives.ReadInt64LittleEndian(bytes[40..])));
    }

    /// <summary>
    /// The creation time, refused as the rest of a bad header is: a checksum is no proof of a sane
    /// value (a crafted file recomputes it), and an out-of-range time would otherwise throw an
    /// <see cref="ArgumentOutOfRangeException"/> that callers do not read as a bad snapshot.
    /// </summary>
    private static DateTimeOffset ReadCreated(long unixMilliseconds) =>
        unixMilliseconds >= EarliestCreated && unixMilliseconds <= LatestCreated
            ? DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds)
            : throw new SnapshotFormatException($"The snapshot header's creation time ({unixMilliseconds} ms) is outside the years 1 to 9999.");
}

/// <summary>A snapshot file that is corrupt, incomplete, or of another format version.</summary>
public sealed class SnapshotFormatException(string message) : Exception(message);

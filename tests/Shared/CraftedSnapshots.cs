using System.Buffers.Binary;
using System.IO.Hashing;

namespace ConsentRegistry.TestSupport;

/// <summary>
/// Index snapshot files changed as a crafted one would be (docs/snapshot-format.md): a value
/// rewritten and its checksum recomputed, so that nothing but the reader's checks of the value
/// itself stands between the file and the index. Linked into each test project that needs it.
/// </summary>
internal static class CraftedSnapshots
{
    private const int HeaderSize = 64;

    /// <summary>Where the <c>index</c> section's payload starts: after the header, the name (a length byte and "index", padded to 8) and the payload length.</summary>
    private const int IndexPayload = HeaderSize + 8 + 8;

    /// <summary>Where the <c>index</c> section's subject count is: after its seq and its entry count.</summary>
    private const int IndexSubjects = IndexPayload + 16;

    /// <summary>Where its subjects by kind (six i32) are: after the subject count and their array's element count.</summary>
    private const int IndexSubjectsByKind = IndexSubjects + 16;

    /// <summary>Rewrites the <c>index</c> section's seq, its first field, and the section's checksum.</summary>
    public static void SetIndexSeq(byte[] snapshot, long seq) => RewriteIndex(snapshot, IndexPayload, BitConverter.GetBytes(seq));

    /// <summary>The <c>index</c> section's seq as the file holds it.</summary>
    public static long IndexSeq(byte[] snapshot) => BinaryPrimitives.ReadInt64LittleEndian(snapshot.AsSpan(IndexPayload));

    /// <summary>Rewrites the <c>index</c> section's subject count, its third field, and the section's checksum.</summary>
    public static void SetIndexSubjects(byte[] snapshot, long subjects) => RewriteIndex(snapshot, IndexSubjects, BitConverter.GetBytes(subjects));

    /// <summary>The <c>index</c> section's subject count as the file holds it.</summary>
    public static long IndexSubjectCount(byte[] snapshot) => BinaryPrimitives.ReadInt64LittleEndian(snapshot.AsSpan(IndexSubjects));

    /// <summary>Rewrites the subjects of kind <paramref name="kind"/> (0 url to 5 embedding) in the <c>index</c> section, and the section's checksum.</summary>
    public static void SetIndexSubjectsOfKind(byte[] snapshot, int kind, int subjects) => RewriteIndex(snapshot, IndexSubjectsByKind + (4 * kind), BitConverter.GetBytes(subjects));

    /// <summary>The subjects of kind <paramref name="kind"/> as the file holds them.</summary>
    public static int IndexSubjectsOfKind(byte[] snapshot, int kind) => BinaryPrimitives.ReadInt32LittleEndian(snapshot.AsSpan(IndexSubjectsByKind + (4 * kind)));

    private static void RewriteIndex(byte[] snapshot, int at, byte[] value)
    {
        if (!snapshot.AsSpan(HeaderSize, 6).SequenceEqual("\u0005index"u8))
        {
            throw new InvalidOperationException("The file does not start with an index section where the format puts it.");
        }

        var length = checked((int)BinaryPrimitives.ReadInt64LittleEndian(snapshot.AsSpan(IndexPayload - 8)));
        value.CopyTo(snapshot.AsSpan(at));
        BinaryPrimitives.WriteUInt64LittleEndian(snapshot.AsSpan(IndexPayload + length), XxHash3.HashToUInt64(snapshot.AsSpan(IndexPayload, length)));
    }

    /// <summary>Rewrites the header's creation time (Unix milliseconds, at byte 40) and the header's checksum.</summary>
    public static void SetCreated(byte[] snapshot, long unixMilliseconds)
    {
        BinaryPrimitives.WriteInt64LittleEndian(snapshot.AsSpan(40), unixMilliseconds);
        BinaryPrimitives.WriteUInt64LittleEndian(snapshot.AsSpan(56), XxHash3.HashToUInt64(snapshot.AsSpan(0, 56)));
    }
}

using System.Numerics;
using System.Runtime.CompilerServices;

namespace ConsentRegistry.Core.Matching;

/// <summary>Building a segment: word-0 order, records, slot 0's bucket starts, the other slots' postings.</summary>
internal sealed partial class PdqSegment
{
    /// <summary>
    /// The memory goal for a large segment (docs/benchmarks.md): bytes an entry besides its 4-byte value. Wider
    /// buckets mean fewer candidates a search but more bytes an entry (decision record 0004).
    /// </summary>
    internal const double BytesPerEntryBudget = 64;

    private const int FullWordBits = 16;

    /// <summary>
    /// The most entries a segment holds: its records are one array of <see cref="RecordBytes"/>
    /// an entry (71,582,786 entries); <see cref="PdqIndex"/> keeps its merges within it.
    /// </summary>
    internal static readonly int MaxEntries = Array.MaxLength / RecordBytes;

    private PdqSegment(int count, int firstBits)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxEntries);
        _records = GC.AllocateUninitializedArray<byte>((int)RecordArrayLength(count));
        _values = GC.AllocateUninitializedArray<int>(count);
        _firstBits = firstBits;
        _firstWords = firstBits < FullWordBits ? new ushort[count] : null;
        _postings = new PdqPostings[Slots - 1];
    }

    /// <summary>Bytes of the record array of a segment of <paramref name="count"/> entries.</summary>
    internal static long RecordArrayLength(int count) => (long)count * RecordBytes;

    /// <summary>Indexes the entries given as full hashes (four ulongs an entry) and values, in any order.</summary>
    public static PdqSegment Build(ReadOnlySpan<ulong> hashes, ReadOnlySpan<int> values)
    {
        var count = values.Length;
        var firstBits = count >= 1 << FullWordBits ? FullWordBits : Math.Clamp(BitOperations.Log2((uint)Math.Max(count, 1)) - 1, 8, FullWordBits);
        var postingBits = PostingBits(count, firstBits);
        var segment = new PdqSegment(count, firstBits);
        var firstStarts = segment.WriteInFirstWordOrder(hashes, values);
        var first = new int[(1 << firstBits) + 1];
        for (var key = 0; key <= 1 << firstBits; key++)
        {
            first[key] = firstStarts[key << (FullWordBits - firstBits)];
        }

        segment._first = new BucketStarts(first);
        var keys = GC.AllocateUninitializedArray<ushort>(count);
        for (var slot = 1; slot < Slots; slot++)
        {
            for (var entry = 0; entry < count; entry++)
            {
                keys[entry] = (ushort)(segment.Word(entry, slot) >> (FullWordBits - postingBits));
            }

            segment._postings[slot - 1] = new PdqPostings(keys, postingBits);
        }

        return segment;
    }

    /// <summary>
    /// The widest buckets (the fewest candidates) whose postings keep a segment within
    /// <see cref="BytesPerEntryBudget"/>, counting its records, slot 0's table and, in a segment
    /// under 2^16 entries, word 0; at least 8 bits.
    /// </summary>
    internal static int PostingBits(int count, int firstBits)
    {
        var fixedBytes = RecordBytes + (BucketStarts.EstimateBytes(1 << firstBits, count) / count) + (firstBits < FullWordBits ? sizeof(ushort) : 0);
        for (var bits = FullWordBits; bits > 8; bits--)
        {
            if (fixedBytes + ((Slots - 1) * PdqPostings.BitsPerEntry(count, bits) / 8) <= BytesPerEntryBudget)
            {
                return bits;
            }
        }

        return 8;
    }

    /// <summary>Word <paramref name="slot"/> (1 to 15) of an entry, from its record.</summary>
    private ushort Word(int entry, int slot)
    {
        ref var record = ref Record(entry);
        return slot < 4
            ? (ushort)(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref record, 22)) >> (slot << 4))
            : (ushort)(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref record, ((slot >> 2) - 1) * 8)) >> ((slot & 3) << 4));
    }

    /// <summary>
    /// Writes the records and values in word-0 order (a counting sort) and returns where each
    /// word's run starts, with the count last.
    /// </summary>
    private int[] WriteInFirstWordOrder(ReadOnlySpan<ulong> hashes, ReadOnlySpan<int> values)
    {
        var starts = new int[(1 << FullWordBits) + 1];
        for (var i = 0; i < Count; i++)
        {
            starts[(ushort)hashes[i << 2] + 1]++;
        }

        for (var word = 0; word < 1 << FullWordBits; word++)
        {
            starts[word + 1] += starts[word];
        }

        var cursor = starts.AsSpan(0, 1 << FullWordBits).ToArray();
        for (var i = 0; i < Count; i++)
        {
            var part0 = hashes[i << 2];
            var at = cursor[(ushort)part0]++;
            ref var record = ref Record(at);
            var part3 = hashes[(i << 2) + 3];
            Unsafe.WriteUnaligned(ref record, hashes[(i << 2) + 1]);
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref record, 8), hashes[(i << 2) + 2]);
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref record, 16), part3);

            // Bytes 22 and 23 are part 3's top two, as written above; bytes 24 to 29 are part 0's top six.
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref record, 22), (part0 & ~0xFFFFUL) | (part3 >> 48));
            _values[at] = values[i];
            if (_firstWords is not null)
            {
                _firstWords[at] = (ushort)part0;
            }
        }

        return starts;
    }
}

using System.Buffers;

namespace ConsentRegistry.Core.Matching;

/// <summary>Building a segment: word-0 order, bucket starts, Elias–Fano postings.</summary>
internal sealed partial class PdqSegment
{
    /// <summary>
    /// Sorts entries [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>)
    /// of <paramref name="hashes"/> (four ulongs an entry) and <paramref name="values"/> by word 0,
    /// then indexes slots 1 to 15.
    /// </summary>
    public static PdqSegment Build(ulong[] hashes, int[] values, int start, int count)
    {
        var segment = new PdqSegment(start, count);
        var range = hashes.AsSpan(start * 4, count * 4);
        segment.SortByFirstWord(range, values.AsSpan(start, count));
        segment.CountWords(range);
        var cursor = ArrayPool<int>.Shared.Rent(segment._buckets);
        try
        {
            // Slot 0 needs only its bucket starts: the range is in word-0 order.
            for (var slot = 1; slot < Slots; slot++)
            {
                segment.IndexSlot(range, slot, cursor);
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(cursor);
        }

        return segment;
    }

    private static ushort Word(ReadOnlySpan<ulong> range, int local, int slot) =>
        (ushort)(range[(local << 2) + (slot >> 2)] >> ((slot & 3) << 4));

    private void SortByFirstWord(Span<ulong> range, Span<int> values)
    {
        // A counting sort gives each entry its place; the moves then follow the permutation's cycles
        // in place, so that a merge of millions of entries needs no second copy of the hashes.
        var starts = ArrayPool<int>.Shared.Rent(1 << 16);
        var order = GC.AllocateUninitializedArray<int>(Count);
        try
        {
            Array.Clear(starts, 0, 1 << 16);
            for (var i = 0; i < Count; i++)
            {
                starts[Word(range, i, 0)]++;
            }

            for (int w = 0, sum = 0; w < 1 << 16; w++)
            {
                (starts[w], sum) = (sum, sum + starts[w]);
            }

            for (var i = 0; i < Count; i++)
            {
                order[starts[Word(range, i, 0)]++] = i;
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(starts);
        }

        for (var i = 0; i < Count; i++)
        {
            if (order[i] < 0 || order[i] == i)
            {
                continue;
            }

            var first = range.Slice(i << 2, 4);
            ulong h0 = first[0], h1 = first[1], h2 = first[2], h3 = first[3];
            var value = values[i];
            var j = i;
            while (true)
            {
                var from = order[j];
                order[j] = -1;
                var to = range.Slice(j << 2, 4);
                if (from == i)
                {
                    (to[0], to[1], to[2], to[3]) = (h0, h1, h2, h3);
                    values[j] = value;
                    break;
                }

                range.Slice(from << 2, 4).CopyTo(to);
                values[j] = values[from];
                j = from;
            }
        }
    }

    private void CountWords(ReadOnlySpan<ulong> range)
    {
        var shift = 16 - _bits;
        var stride = _buckets + 1;
        var offsets = _offsets.AsSpan();
        for (var i = 0; i < Count; i++)
        {
            var entry = range.Slice(i << 2, 4);
            for (var slot = 0; slot < Slots; slot++)
            {
                var word = (ushort)(entry[slot >> 2] >> ((slot & 3) << 4));
                offsets[(slot * stride) + (word >> shift) + 1]++;
            }
        }

        for (var slot = 0; slot < Slots; slot++)
        {
            var slotOffsets = offsets.Slice(slot * stride, stride);
            for (var key = 0; key < _buckets; key++)
            {
                slotOffsets[key + 1] += slotOffsets[key];
            }
        }
    }

    private void IndexSlot(ReadOnlySpan<ulong> range, int slot, Span<int> cursor)
    {
        var shift = 16 - _bits;
        _offsets.AsSpan(slot * (_buckets + 1), _buckets).CopyTo(cursor);
        var low = _low.AsSpan((slot - 1) * Count, Count);
        var high = _high.AsSpan((slot - 1) * _highWords, _highWords);
        for (var i = 0; i < Count; i++)
        {
            var key = Word(range, i, slot) >> shift;
            var at = cursor[key]++;
            low[at] = (ushort)i;
            var bit = at + (long)key * _blocks + (i >> LowBits);
            high[(int)(bit >> 6)] |= 1UL << (int)(bit & 63);
        }
    }
}

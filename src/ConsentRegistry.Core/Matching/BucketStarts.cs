using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// Where each bucket of one slot of a <see cref="PdqSegment"/> starts (bucket 0 to the bucket
/// count, the last being the entry count), in about 2 bytes a bucket instead of 4: an int base
/// per group of up to 64 buckets and a ushort offset from it per bucket. A group is narrowed
/// until no offset overflows, down to one bucket a group (a base per bucket) for a slot where
/// one bucket holds more than 65,535 entries, as many copies of one hash would.
/// </summary>
internal readonly struct BucketStarts
{
    private const int WidestGroup = 6;

    private readonly int[] _bases;
    private readonly ushort[] _offsets;
    private readonly int _shift;

    /// <param name="starts">The start of every bucket and, last, the entry count: ascending.</param>
    public BucketStarts(ReadOnlySpan<int> starts)
    {
        var shift = WidestGroup;
        while (shift > 0 && !OffsetsFit(starts, shift))
        {
            shift--;
        }

        _shift = shift;
        _bases = new int[((starts.Length - 1) >> shift) + 1];
        _offsets = new ushort[starts.Length];
        for (var key = 0; key < starts.Length; key++)
        {
            if ((key & ((1 << shift) - 1)) == 0)
            {
                _bases[key >> shift] = starts[key];
            }

            _offsets[key] = (ushort)(starts[key] - _bases[key >> shift]);
        }
    }

    /// <summary>Bytes held by the table's arrays.</summary>
    public long Bytes => _bases.LongLength * sizeof(int) + _offsets.LongLength * sizeof(ushort);

    /// <summary>The first entry (in the slot's bucket order) of bucket <paramref name="key"/>.</summary>
    public int this[int key]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_bases), key >> _shift)
            + Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_offsets), key);
    }

    /// <summary>Asks for the cache line that holds bucket <paramref name="key"/>'s start (the bases stay cached).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(int key) => Matching.Prefetch.Line(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_offsets), key));

    /// <summary>The bucket that holds entry <paramref name="position"/>: the last key whose start is at or before it.</summary>
    public int BucketOf(int position)
    {
        int low = 0, high = _offsets.Length - 2;
        while (low < high)
        {
            var middle = (low + high + 1) >> 1;
            if (this[middle] <= position)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        return low;
    }

    private static bool OffsetsFit(ReadOnlySpan<int> starts, int shift)
    {
        for (var first = 0; first < starts.Length; first += 1 << shift)
        {
            var last = Math.Min(first + (1 << shift), starts.Length) - 1;
            if (starts[last] - starts[first] > ushort.MaxValue)
            {
                return false;
            }
        }

        return true;
    }
}

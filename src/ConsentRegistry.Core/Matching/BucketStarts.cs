using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// Where each bucket of one slot of a <see cref="PdqSegment"/> starts (bucket 0 to the bucket
/// count, the last being the entry count), in 1 or 2 bytes a bucket instead of 4: an int base per
/// group of buckets and a byte or ushort offset from it per bucket, whichever is smaller. Groups
/// hold up to 64 buckets and narrow until no offset overflows, down to one bucket a group (a
/// base per bucket) where one bucket holds more than 65,535 entries, as many copies of one hash
/// would. Small segments, with a few entries a bucket, take bytes.
/// </summary>
internal readonly struct BucketStarts
{
    private const int WidestGroup = 6;

    /// <summary>Largest span of a byte group the estimate expects to fit (room for uneven buckets).</summary>
    private const int EstimatedByteSpan = 192;

    private readonly int[] _bases;
    private readonly byte[]? _narrow;
    private readonly ushort[]? _wide;
    private readonly int _shift;

    /// <param name="starts">The start of every bucket and, last, the entry count: ascending.</param>
    public BucketStarts(ReadOnlySpan<int> starts)
    {
        var narrowShift = WidestFitting(starts, byte.MaxValue);
        var wideShift = WidestFitting(starts, ushort.MaxValue);
        var narrow = narrowShift >= 0 && Size(starts.Length, narrowShift, 1) <= Size(starts.Length, wideShift, 2);
        _shift = narrow ? narrowShift : wideShift;
        _bases = new int[((starts.Length - 1) >> _shift) + 1];
        for (var group = 0; group < _bases.Length; group++)
        {
            _bases[group] = starts[group << _shift];
        }

        if (narrow)
        {
            _narrow = new byte[starts.Length];
            for (var key = 0; key < starts.Length; key++)
            {
                _narrow[key] = (byte)(starts[key] - _bases[key >> _shift]);
            }
        }
        else
        {
            _wide = new ushort[starts.Length];
            for (var key = 0; key < starts.Length; key++)
            {
                _wide[key] = (ushort)(starts[key] - _bases[key >> _shift]);
            }
        }
    }

    /// <summary>Bytes held by the table's arrays.</summary>
    public long Bytes => (_bases.LongLength * sizeof(int)) + (_narrow?.LongLength ?? 0) + ((_wide?.LongLength ?? 0) * sizeof(ushort));

    /// <summary>The first entry (in the slot's bucket order) of bucket <paramref name="key"/>.</summary>
    public int this[int key]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_bases), key >> _shift)
            + (_narrow is { } narrow
                ? Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(narrow), key)
                : Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_wide!), key));
    }

    /// <summary>
    /// The bytes a table of <paramref name="buckets"/> buckets over <paramref name="count"/>
    /// entries takes when the entries are spread evenly: what a segment's build plans with.
    /// </summary>
    public static double EstimateBytes(int buckets, int count)
    {
        var perBucket = (double)count / buckets;
        var shift = WidestGroup;
        while (shift >= 0 && perBucket * (1 << shift) > EstimatedByteSpan)
        {
            shift--;
        }

        var wide = Size(buckets + 1, WidestGroup, 2);
        return shift < 0 ? wide : Math.Min(wide, Size(buckets + 1, shift, 1));
    }

    /// <summary>Asks for the cache lines that hold bucket <paramref name="key"/>'s start: its group's base and its offset.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(int key)
    {
        Matching.Prefetch.Line(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_bases), key >> _shift));
        if (_narrow is { } narrow)
        {
            Matching.Prefetch.Line(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(narrow), key));
        }
        else
        {
            Matching.Prefetch.Line(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_wide!), key));
        }
    }

    /// <summary>The bucket that holds entry <paramref name="position"/>: the last key whose start is at or before it.</summary>
    public int BucketOf(int position)
    {
        int low = 0, high = (_narrow?.Length ?? _wide!.Length) - 2;
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

    private static long Size(int length, int shift, int offsetBytes) => ((long)length * offsetBytes) + ((((length - 1) >> shift) + 1) * sizeof(int));

    /// <summary>The widest group (as a shift) whose offsets all fit under <paramref name="limit"/>; -1 if none.</summary>
    private static int WidestFitting(ReadOnlySpan<int> starts, int limit)
    {
        for (var shift = WidestGroup; shift >= 0; shift--)
        {
            if (OffsetsFit(starts, shift, limit))
            {
                return shift;
            }
        }

        return -1;
    }

    private static bool OffsetsFit(ReadOnlySpan<int> starts, int shift, int limit)
    {
        for (var first = 0; first < starts.Length; first += 1 << shift)
        {
            var last = Math.Min(first + (1 << shift), starts.Length) - 1;
            if (starts[last] - starts[first] > limit)
            {
                return false;
            }
        }

        return true;
    }
}

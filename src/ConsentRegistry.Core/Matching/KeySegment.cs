using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// An immutable run of a <see cref="KeyTable"/>: entries sorted by key (then value), and where
/// each bucket of the top <c>bits</c> bits of the key starts (<see cref="BucketStarts"/>, a byte or
/// two a bucket). Buckets average two to four entries, so a lookup reads the directory and then
/// one or two cache lines of entries. Keys are uniform hashes, so buckets stay even.
/// </summary>
internal sealed class KeySegment
{
    /// <summary>Buckets up to this many entries are read in order; longer ones (keys crafted to share their top bits) are searched by halves.</summary>
    private const int LinearBucket = 16;

    private readonly KeyEntry[] _entries;
    private readonly BucketStarts _starts;
    private readonly int _shift;

    private KeySegment(KeyEntry[] entries)
    {
        _entries = entries;
        var bits = Math.Max(1, BitOperations.Log2((uint)Math.Max(1, entries.Length / 2)));
        _shift = 64 - bits;
        var starts = new int[(1 << bits) + 1];
        var bucket = 0;
        for (var at = 0; at < entries.Length; at++)
        {
            var of = (int)(entries[at].High >> _shift);
            while (bucket <= of)
            {
                starts[bucket++] = at;
            }
        }

        while (bucket < starts.Length)
        {
            starts[bucket++] = entries.Length;
        }

        _starts = new BucketStarts(starts);
    }

    public int Count => _entries.Length;

    public long Bytes => (_entries.LongLength * Unsafe.SizeOf<KeyEntry>()) + _starts.Bytes;

    /// <summary>A segment of <paramref name="entries"/>, which it sorts and keeps.</summary>
    public static KeySegment Build(KeyEntry[] entries)
    {
        Array.Sort(entries);
        return new KeySegment(entries);
    }

    /// <summary>One segment of the entries of <paramref name="sources"/> (each sorted) and of <paramref name="unsorted"/>.</summary>
    public static KeySegment Merge(IReadOnlyList<KeySegment> sources, ReadOnlySpan<KeyEntry> unsorted)
    {
        var count = unsorted.Length;
        foreach (var source in sources)
        {
            count += source.Count;
        }

        var merged = GC.AllocateUninitializedArray<KeyEntry>(count);
        var runs = new List<KeyEntry[]>(sources.Count + 1);
        foreach (var source in sources)
        {
            runs.Add(source._entries);
        }

        if (!unsorted.IsEmpty)
        {
            var tail = unsorted.ToArray();
            Array.Sort(tail);
            runs.Add(tail);
        }

        MergeRuns(runs, merged);
        return new KeySegment(merged);
    }

    public ref readonly KeyEntry Entry(int at) => ref _entries[at];

    /// <summary>
    /// Where <paramref name="key"/>'s entries start in this segment and where its bucket ends
    /// (they are adjacent from the start); an empty range when the key is absent.
    /// </summary>
    public (int Start, int End) Locate(in Key96 key)
    {
        var bucket = (int)(key.High >> _shift);
        var start = _starts[bucket];
        var end = _starts[bucket + 1];
        ref var entries = ref MemoryMarshal.GetArrayDataReference(_entries);
        if (end - start > LinearBucket)
        {
            start = LowerBound(start, end, key); // a crowded bucket: keys chosen to share their top bits
        }

        for (var at = start; at < end; at++)
        {
            ref readonly var entry = ref Unsafe.Add(ref entries, at);
            if (entry.High > key.High || (entry.High == key.High && entry.Low >= key.Low))
            {
                return entry.High == key.High && entry.Low == key.Low ? (at, end) : (0, 0);
            }
        }

        return (0, 0);
    }

    /// <summary>The first entry in [start, end) whose key is not below <paramref name="key"/>.</summary>
    private int LowerBound(int start, int end, in Key96 key)
    {
        while (start < end)
        {
            var mid = (int)(((uint)start + (uint)end) >> 1);
            ref readonly var entry = ref _entries[mid];
            if (entry.High < key.High || (entry.High == key.High && entry.Low < key.Low))
            {
                start = mid + 1;
            }
            else
            {
                end = mid;
            }
        }

        return start;
    }

    /// <summary>A k-way merge of sorted runs, older runs first among equal entries; k is small (a few segments).</summary>
    private static void MergeRuns(List<KeyEntry[]> runs, KeyEntry[] into)
    {
        var positions = new int[runs.Count];
        for (var at = 0; at < into.Length; at++)
        {
            var best = -1;
            for (var run = 0; run < runs.Count; run++)
            {
                if (positions[run] < runs[run].Length
                    && (best < 0 || runs[run][positions[run]].CompareTo(runs[best][positions[best]]) < 0))
                {
                    best = run;
                }
            }

            into[at] = runs[best][positions[best]++];
        }
    }
}

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

    /// <summary>A segment of <paramref name="entries"/> as a snapshot holds them: already sorted, which is checked.</summary>
    public static KeySegment FromSorted(KeyEntry[] entries)
    {
        for (var at = 1; at < entries.Length; at++)
        {
            if (entries[at - 1].CompareTo(entries[at]) > 0)
            {
                throw new Snapshots.SnapshotFormatException("A key segment's entries are out of order.");
            }
        }

        return new KeySegment(entries);
    }

    /// <summary>The entries, sorted.</summary>
    public ReadOnlySpan<KeyEntry> Entries => _entries;

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
            var order = entry.Key.CompareTo(key);
            if (order >= 0)
            {
                return order == 0 ? (at, end) : (0, 0);
            }
        }

        return (0, 0);
    }

    /// <summary>The keys with at least <paramref name="count"/> entries: runs of equal keys in the sorted entries.</summary>
    public List<Key96> KeysWithAtLeast(int count)
    {
        var keys = new List<Key96>();
        for (var start = 0; start < _entries.Length;)
        {
            var key = _entries[start].Key;
            var end = start + 1;
            while (end < _entries.Length && _entries[end].Is(key))
            {
                end++;
            }

            if (end - start >= count)
            {
                keys.Add(key);
            }

            start = end;
        }

        return keys;
    }

    /// <summary>The first entry in [start, end) whose key is not below <paramref name="key"/>.</summary>
    private int LowerBound(int start, int end, in Key96 key)
    {
        while (start < end)
        {
            var mid = (int)(((uint)start + (uint)end) >> 1);
            if (_entries[mid].Key.CompareTo(key) < 0)
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

    /// <summary>
    /// A k-way merge of sorted runs through a binary heap of the runs' heads (about 2·log2 k
    /// comparisons an entry), older runs first among equal entries. A merge of every segment
    /// meets a dozen runs or more, where picking the least head by scanning them all was several
    /// times slower.
    /// </summary>
    private static void MergeRuns(List<KeyEntry[]> runs, KeyEntry[] into)
    {
        var sources = runs.Where(run => run.Length > 0).ToArray();
        var heads = new int[sources.Length];
        var heap = new int[sources.Length];
        for (var run = 0; run < heap.Length; run++)
        {
            heap[run] = run;
        }

        var size = heap.Length;
        for (var at = (size / 2) - 1; at >= 0; at--)
        {
            SiftDown(heap, size, at, sources, heads);
        }

        for (var at = 0; at < into.Length; at++)
        {
            var run = heap[0];
            into[at] = sources[run][heads[run]++];
            if (heads[run] == sources[run].Length)
            {
                heap[0] = heap[--size];
            }

            SiftDown(heap, size, 0, sources, heads);
        }
    }

    private static void SiftDown(int[] heap, int size, int at, KeyEntry[][] runs, int[] heads)
    {
        while (true)
        {
            var least = at;
            var left = (2 * at) + 1;
            if (left < size && Precedes(heap[left], heap[least], runs, heads))
            {
                least = left;
            }

            if (left + 1 < size && Precedes(heap[left + 1], heap[least], runs, heads))
            {
                least = left + 1;
            }

            if (least == at)
            {
                return;
            }

            (heap[at], heap[least]) = (heap[least], heap[at]);
            at = least;
        }
    }

    /// <summary>Whether run <paramref name="a"/>'s head comes first: the lesser entry, or on equal entries the older run.</summary>
    private static bool Precedes(int a, int b, KeyEntry[][] runs, int[] heads)
    {
        var order = runs[a][heads[a]].CompareTo(runs[b][heads[b]]);
        return order < 0 || (order == 0 && a < b);
    }
}

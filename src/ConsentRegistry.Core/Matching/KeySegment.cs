using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// An immutable run of a <see cref="KeyTable"/>: entries sorted by key (then value), and where
/// each bucket of the top <c>bits</c> bits of the key starts (<see cref="BucketStarts"/>, a byte or
/// two a bucket). Buckets average two to four entries, so a lookup reads the directory and then
/// one or two cache lines of entries. Keys are uniform hashes, so buckets stay even.
/// The directory has at least 16 bits, so the key's top 16 bits (its group) are known from where
/// an entry sits and an entry stores only the other 64 (<see cref="SegmentEntry"/>, 12 bytes).
/// </summary>
internal sealed class KeySegment
{
    /// <summary>Key bits given by an entry's place rather than stored in it.</summary>
    public const int GroupBits = 16;

    /// <summary>Groups of a segment: every value of a key's top <see cref="GroupBits"/> bits.</summary>
    public const int Groups = 1 << GroupBits;

    /// <summary>Buckets up to this many entries are read in order; longer ones (keys crafted to share their top bits) are searched by halves.</summary>
    private const int LinearBucket = 16;

    private readonly SegmentEntry[] _entries;
    private readonly BucketStarts _starts;
    private readonly int _bits;

    /// <param name="entries">Sorted within each group.</param>
    /// <param name="groupStarts">Where each group's entries start, and last the entry count (<see cref="Groups"/> + 1 of them).</param>
    private KeySegment(SegmentEntry[] entries, ReadOnlySpan<int> groupStarts)
    {
        _entries = entries;
        _bits = Math.Max(GroupBits, BitOperations.Log2((uint)Math.Max(1, entries.Length / 2)));
        var finer = _bits - GroupBits; // directory bits below the group's, taken from the top of Rest
        // A segment is made from every full tail: its directory's 65,537 starts are rented, where a
        // new array each time would be a large-object allocation (and in time a full collection).
        // A large segment's are not: the pool would keep them.
        var length = (1 << _bits) + 1;
        var rented = length <= Groups + 1 ? ArrayPool<int>.Shared.Rent(length) : null;
        var starts = rented is null ? new int[length] : rented.AsSpan(0, length);
        var bucket = 0;
        for (var group = 0; group < Groups; group++)
        {
            for (var at = groupStarts[group]; at < groupStarts[group + 1]; at++)
            {
                var of = (group << finer) | (finer == 0 ? 0 : (int)(entries[at].Rest >> (64 - finer)));
                while (bucket <= of)
                {
                    starts[bucket++] = at;
                }
            }
        }

        while (bucket < starts.Length)
        {
            starts[bucket++] = entries.Length;
        }

        _starts = new BucketStarts(starts);
        if (rented is not null)
        {
            ArrayPool<int>.Shared.Return(rented);
        }
    }

    public int Count => _entries.Length;

    public long Bytes => (_entries.LongLength * Unsafe.SizeOf<SegmentEntry>()) + _starts.Bytes;

    /// <summary>A segment of <paramref name="entries"/>, which it sorts.</summary>
    public static KeySegment Build(KeyEntry[] entries)
    {
        Array.Sort(entries);
        var packed = GC.AllocateUninitializedArray<SegmentEntry>(entries.Length);
        var groupStarts = ArrayPool<int>.Shared.Rent(Groups + 1);
        var group = 0;
        for (var at = 0; at < entries.Length; at++)
        {
            var key = entries[at].Key;
            while (group <= key.Group)
            {
                groupStarts[group++] = at;
            }

            packed[at] = new SegmentEntry(key.Rest, entries[at].Value);
        }

        while (group <= Groups)
        {
            groupStarts[group++] = entries.Length;
        }

        var segment = new KeySegment(packed, groupStarts);
        ArrayPool<int>.Shared.Return(groupStarts);
        return segment;
    }

    /// <summary>A segment of <paramref name="entries"/> and <paramref name="groupStarts"/> as a snapshot holds them (<see cref="GroupStarts"/>), which are checked.</summary>
    public static KeySegment FromSorted(SegmentEntry[] entries, int[] groupStarts)
    {
        if (groupStarts.Length != Groups + 1 || groupStarts[0] != 0 || groupStarts[Groups] != entries.Length)
        {
            throw new Snapshots.SnapshotFormatException("A key segment's group starts do not span its entries.");
        }

        for (var group = 0; group < Groups; group++)
        {
            if (groupStarts[group + 1] < groupStarts[group])
            {
                throw new Snapshots.SnapshotFormatException("A key segment's group starts go backwards.");
            }

            for (var at = groupStarts[group] + 1; at < groupStarts[group + 1]; at++)
            {
                if (entries[at - 1].CompareTo(entries[at]) > 0)
                {
                    throw new Snapshots.SnapshotFormatException("A key segment's entries are out of order.");
                }
            }
        }

        return new KeySegment(entries, groupStarts);
    }

    /// <summary>The entries, sorted within each group.</summary>
    public ReadOnlySpan<SegmentEntry> Entries => _entries;

    /// <summary>Where each group's entries start, and last the entry count: what a snapshot stores beside <see cref="Entries"/>.</summary>
    public int[] GroupStarts()
    {
        var starts = new int[Groups + 1];
        for (var group = 0; group <= Groups; group++)
        {
            starts[group] = GroupStart(group);
        }

        return starts;
    }

    /// <summary>One segment of the entries of <paramref name="sources"/> and of <paramref name="unsorted"/>.</summary>
    public static KeySegment Merge(IReadOnlyList<KeySegment> sources, ReadOnlySpan<KeyEntry> unsorted)
    {
        List<KeySegment> runs = [.. sources];
        if (!unsorted.IsEmpty)
        {
            runs.Add(Build(unsorted.ToArray()));
        }

        var merged = GC.AllocateUninitializedArray<SegmentEntry>(MergedLength([.. runs.Select(run => run.Count)]));
        var groupStarts = ArrayPool<int>.Shared.Rent(Groups + 1);
        var merge = new GroupMerge(runs);
        var at = 0;
        for (var group = 0; group < Groups; group++)
        {
            groupStarts[group] = at;
            at = merge.MergeGroup(group, merged, at);
        }

        groupStarts[Groups] = at;
        var segment = new KeySegment(merged, groupStarts);
        ArrayPool<int>.Shared.Return(groupStarts);
        return segment;
    }

    /// <summary>Entries of a segment merged from runs of <paramref name="counts"/> entries; more than one array holds are refused.</summary>
    internal static int MergedLength(ReadOnlySpan<int> counts)
    {
        long count = 0;
        foreach (var run in counts)
        {
            count += run;
        }

        return count <= Array.MaxLength
            ? (int)count
            : throw new InvalidOperationException($"A merged key segment of {count:N0} entries would outgrow one array ({Array.MaxLength:N0}).");
    }

    public ref readonly SegmentEntry Entry(int at) => ref _entries[at];

    /// <summary>
    /// Where <paramref name="key"/>'s entries start in this segment and where its bucket ends
    /// (they are adjacent from the start); an empty range when the key is absent.
    /// </summary>
    public (int Start, int End) Locate(in Key80 key)
    {
        var bucket = (int)(key.High >> (64 - _bits));
        var start = _starts[bucket];
        var end = _starts[bucket + 1];
        var rest = key.Rest;
        ref var entries = ref MemoryMarshal.GetArrayDataReference(_entries);
        if (end - start > LinearBucket)
        {
            start = LowerBound(start, end, rest); // a crowded bucket: keys chosen to share their top bits
        }

        for (var at = start; at < end; at++)
        {
            var stored = Unsafe.Add(ref entries, at).Rest;
            if (stored >= rest)
            {
                return stored == rest ? (at, end) : (0, 0);
            }
        }

        return (0, 0);
    }

    /// <summary>Asks for the directory line of <paramref name="key"/>'s bucket (the first step of <see cref="Locate"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchBucket(in Key80 key) => _starts.Prefetch((int)(key.High >> (64 - _bits)));

    /// <summary>Reads <paramref name="key"/>'s bucket start and asks for the entries' first line (the second step).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchEntries(in Key80 key)
    {
        var start = _starts[(int)(key.High >> (64 - _bits))];
        if (start < _entries.Length) // an empty last bucket starts past the end: no reference there, even for a prefetch
        {
            Matching.Prefetch.Line(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_entries), start));
        }
    }

    /// <summary>The keys with at least <paramref name="count"/> entries: runs of equal keys in the sorted entries.</summary>
    public List<Key80> KeysWithAtLeast(int count)
    {
        var keys = new List<Key80>();
        for (var group = 0; group < Groups; group++)
        {
            var groupEnd = GroupStart(group + 1);
            for (var start = GroupStart(group); start < groupEnd;)
            {
                var rest = _entries[start].Rest;
                var end = start + 1;
                while (end < groupEnd && _entries[end].Rest == rest)
                {
                    end++;
                }

                if (end - start >= count)
                {
                    keys.Add(Key80.FromParts(group, rest));
                }

                start = end;
            }
        }

        return keys;
    }

    /// <summary>
    /// The keys with at least <paramref name="count"/> entries in <paramref name="segments"/>
    /// together (a key's entries may be in several): their groups walked in step, each key's
    /// entries counted in every segment.
    /// </summary>
    public static List<Key80> KeysWithAtLeast(IReadOnlyList<KeySegment> segments, int count)
    {
        var keys = new List<Key80>();
        var heads = new int[segments.Count];
        var ends = new int[segments.Count];
        for (var group = 0; group < Groups; group++)
        {
            for (var segment = 0; segment < segments.Count; segment++)
            {
                heads[segment] = segments[segment].GroupStart(group);
                ends[segment] = segments[segment].GroupStart(group + 1);
            }

            while (true)
            {
                ulong? least = null; // the least key at the segments' heads
                for (var segment = 0; segment < segments.Count; segment++)
                {
                    if (heads[segment] < ends[segment])
                    {
                        var head = segments[segment]._entries[heads[segment]].Rest;
                        if (least is not { } current || head < current)
                        {
                            least = head;
                        }
                    }
                }

                if (least is not { } rest)
                {
                    break;
                }

                var entries = 0;
                for (var segment = 0; segment < segments.Count; segment++)
                {
                    for (; heads[segment] < ends[segment] && segments[segment]._entries[heads[segment]].Rest == rest; heads[segment]++)
                    {
                        entries++;
                    }
                }

                if (entries >= count)
                {
                    keys.Add(Key80.FromParts(group, rest));
                }
            }
        }

        return keys;
    }

    private int GroupStart(int group) => _starts[group << (_bits - GroupBits)];

    /// <summary>The first entry in [start, end) whose key is not below <paramref name="rest"/>'s.</summary>
    private int LowerBound(int start, int end, ulong rest)
    {
        while (start < end)
        {
            var mid = (int)(((uint)start + (uint)end) >> 1);
            if (_entries[mid].Rest < rest)
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
    /// A k-way merge of sorted segments, group by group, through a binary heap of the runs' heads
    /// (about 2·log2 k comparisons an entry), older runs first among equal entries. A merge of
    /// every segment meets a dozen runs or more, where picking the least head by scanning them
    /// all was several times slower.
    /// </summary>
    private sealed class GroupMerge(List<KeySegment> runs)
    {
        private readonly int[] _heads = new int[runs.Count];
        private readonly int[] _ends = new int[runs.Count];
        private readonly int[] _heap = new int[runs.Count];

        /// <summary>Writes group <paramref name="group"/>'s entries of every run to <paramref name="into"/> from <paramref name="at"/>; returns where they end.</summary>
        public int MergeGroup(int group, SegmentEntry[] into, int at)
        {
            var size = 0;
            for (var run = 0; run < runs.Count; run++)
            {
                _heads[run] = runs[run].GroupStart(group);
                _ends[run] = runs[run].GroupStart(group + 1);
                if (_heads[run] < _ends[run])
                {
                    _heap[size++] = run;
                }
            }

            if (size == 1)
            {
                var only = _heap[0];
                var length = _ends[only] - _heads[only];
                runs[only]._entries.AsSpan(_heads[only], length).CopyTo(into.AsSpan(at));
                return at + length;
            }

            for (var node = (size / 2) - 1; node >= 0; node--)
            {
                SiftDown(size, node);
            }

            while (size > 0)
            {
                var run = _heap[0];
                into[at++] = runs[run]._entries[_heads[run]++];
                if (_heads[run] == _ends[run])
                {
                    _heap[0] = _heap[--size];
                }

                SiftDown(size, 0);
            }

            return at;
        }

        private void SiftDown(int size, int at)
        {
            while (true)
            {
                var least = at;
                var left = (2 * at) + 1;
                if (left < size && Precedes(_heap[left], _heap[least]))
                {
                    least = left;
                }

                if (left + 1 < size && Precedes(_heap[left + 1], _heap[least]))
                {
                    least = left + 1;
                }

                if (least == at)
                {
                    return;
                }

                (_heap[at], _heap[least]) = (_heap[least], _heap[at]);
                at = least;
            }
        }

        /// <summary>Whether run <paramref name="a"/>'s head comes first: the lesser entry, or on equal entries the older run.</summary>
        private bool Precedes(int a, int b)
        {
            var order = runs[a]._entries[_heads[a]].CompareTo(runs[b]._entries[_heads[b]]);
            return order < 0 || (order == 0 && a < b);
        }
    }
}

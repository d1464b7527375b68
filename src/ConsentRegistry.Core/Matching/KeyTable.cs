using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// A multimap from 80-bit key fingerprints to 32-bit values (claim numbers), 12 bytes an entry
/// and no object per key (decision record 0013). Entries go to a small tail, hashed for lookups;
/// a full tail becomes an immutable <see cref="KeySegment"/> (entries sorted by key, found
/// through a bucket directory on the key's top bits), and segments merge as the PDQ index's do
/// (<see cref="SegmentMerges"/>), so a lookup visits a few segments, and one after
/// <see cref="Compact"/> (several past <see cref="MaxSegmentEntries"/>, what one array holds).
/// Entries are never removed: the index marks claims revoked instead.
/// Not thread-safe: one writer, or many readers, at a time.
/// </summary>
public sealed class KeyTable
{
    /// <summary>Entries the tail holds before it becomes a segment.</summary>
    internal const int TailLimit = 4096;

    private const int TailSlots = TailLimit * 2;

    private readonly List<KeySegment> _segments = [];
    private readonly KeyEntry[] _tail = new KeyEntry[TailLimit];
    // One slot per distinct key, by linear probing: its newest entry's number + 1 (0 is empty); each
    // entry links to the key's previous one. A key with thousands of entries (2,000 claims on one
    // host) is one slot, not a run of thousands that every other key's probe landing there would walk.
    private readonly int[] _tailSlots = new int[TailSlots];
    private readonly int[] _tailPrevious = new int[TailLimit]; // entry → the same key's previous entry + 1; 0: none
    private int _tailCount;
    private readonly List<Key80> _crowded = [];
    private readonly int _maxSegmentEntries = Array.MaxLength;

    /// <summary>
    /// When above 0, each full tail made into a segment is searched for keys with this many
    /// entries in it, kept for <see cref="TakeCrowded"/>: how the index finds keys turning hot
    /// without counting a key's entries in every segment on every add.
    /// </summary>
    internal int CrowdedAt { get; set; }

    /// <summary>Entries added.</summary>
    public long Count { get; private set; }

    /// <summary>
    /// The most entries one segment holds: <see cref="Array.MaxLength"/>, what its entry array can;
    /// set lower (at least <see cref="TailLimit"/>) only to test what the cap does.
    /// </summary>
    internal int MaxSegmentEntries
    {
        get => _maxSegmentEntries;
        init => _maxSegmentEntries = value is >= TailLimit && value <= Array.MaxLength
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, $"A segment's cap is {TailLimit} to {Array.MaxLength} entries.");
    }

    /// <summary>Immutable segments (the tail aside).</summary>
    public int SegmentCount => _segments.Count;

    /// <summary>Entries in each segment, oldest first.</summary>
    internal IEnumerable<int> SegmentSizes => _segments.Select(segment => segment.Count);

    /// <summary>As <see cref="PdqIndex.DeferMerges"/>: merges wait for <see cref="PrepareMerge"/> and <see cref="CommitMerge"/>.</summary>
    public bool DeferMerges { get; init; }

    /// <summary>Bytes held by the table's arrays.</summary>
    public long Bytes
    {
        get
        {
            long bytes = (TailLimit * (Unsafe.SizeOf<KeyEntry>() + sizeof(int))) + (TailSlots * sizeof(int));
            foreach (var segment in _segments)
            {
                bytes += segment.Bytes;
            }

            return bytes;
        }
    }

    /// <summary>Adds <paramref name="value"/> under <paramref name="key"/>; a key may hold many values, and the same one twice.</summary>
    public void Add(in Key80 key, uint value)
    {
        _tail[_tailCount] = new KeyEntry(key, value);
        var slot = TailSlot(key);
        _tailPrevious[_tailCount] = _tailSlots[slot];
        _tailSlots[slot] = ++_tailCount;
        Count++;
        if (_tailCount < TailLimit)
        {
            return;
        }

        var segment = KeySegment.Build([.. _tail]);
        _segments.Add(segment);
        if (CrowdedAt > 0)
        {
            _crowded.AddRange(segment.KeysWithAtLeast(CrowdedAt));
        }

        _tailCount = 0;
        Array.Clear(_tailSlots);
        if (!DeferMerges)
        {
            while (PrepareMerge() is { } merge)
            {
                CommitMerge(merge);
            }
        }
    }

    /// <summary>The keys gathered since the last call (<see cref="CrowdedAt"/>); empties the list.</summary>
    internal List<Key80>? TakeCrowded()
    {
        if (_crowded.Count == 0)
        {
            return null;
        }

        List<Key80> taken = [.. _crowded];
        _crowded.Clear();
        return taken;
    }

    /// <summary>How many entries <paramref name="key"/> has in the tail: a few reads of a small, hashed array.</summary>
    internal int TailCount(in Key80 key)
    {
        var count = 0;
        for (var number = _tailSlots[TailSlot(key)]; number != 0; number = _tailPrevious[number - 1])
        {
            count++;
        }

        return count;
    }

    /// <summary>Tail slots in use: one per distinct key in the tail (for tests).</summary>
    internal int TailSlotsInUse => _tailSlots.Count(number => number != 0);

    /// <summary>The slot that holds <paramref name="key"/> in the tail, or the empty one where it would go.</summary>
    private int TailSlot(in Key80 key)
    {
        var slot = TailHome(key);
        for (int number; (number = _tailSlots[slot]) != 0 && !_tail[number - 1].Is(key);)
        {
            slot = (slot + 1) & (TailSlots - 1);
        }

        return slot;
    }

    /// <summary>Asks for the directory lines <see cref="Find"/> will read first for <paramref name="key"/>, in every segment.</summary>
    internal void PrefetchBuckets(in Key80 key)
    {
        Matching.Prefetch.Line(ref _tailSlots[TailHome(key)]);
        foreach (var segment in _segments)
        {
            segment.PrefetchBucket(key);
        }
    }

    /// <summary>Reads <paramref name="key"/>'s bucket starts (best asked for with <see cref="PrefetchBuckets"/> beforehand) and asks for the entry lines.</summary>
    internal void PrefetchEntries(in Key80 key)
    {
        foreach (var segment in _segments)
        {
            segment.PrefetchEntries(key);
        }
    }

    /// <summary>The values under <paramref name="key"/>, in no particular order.</summary>
    public Values Find(in Key80 key) => new(this, key);

    /// <summary>The keys holding at least <paramref name="count"/> values; only once <see cref="Compact"/> has left no tail.</summary>
    public List<Key80> KeysWithAtLeast(int count)
    {
        if (_tailCount > 0)
        {
            throw new InvalidOperationException("Compact the table first.");
        }

        return _segments.Count switch
        {
            0 => [],
            1 => _segments[0].KeysWithAtLeast(count),
            _ => KeySegment.KeysWithAtLeast(_segments, count), // past what one segment holds
        };
    }

    /// <summary>Builds the merge that is due, if any (<see cref="SegmentMerges.Due"/>): safe beside lookups, not beside another writer.</summary>
    internal SegmentMerge<KeySegment>? PrepareMerge()
    {
        var sources = SegmentMerges.Due(_segments, static segment => segment.Count, TailLimit, MaxSegmentEntries);
        return sources == 0 ? null : new SegmentMerge<KeySegment>(_segments[^sources], sources, KeySegment.Merge(_segments[^sources..], []));
    }

    /// <summary>Puts a merge from <see cref="PrepareMerge"/> in place of the segments it was built from.</summary>
    internal void CommitMerge(SegmentMerge<KeySegment> merge) => merge.SwapInto(_segments, "key table");

    /// <summary>
    /// Merges every segment and the tail into one segment: the smallest and fastest shape, worth its
    /// cost once a bulk load is done. Past <see cref="MaxSegmentEntries"/> entries, into as few as
    /// hold them (<see cref="SegmentMerges.CompactRuns"/>).
    /// </summary>
    public void Compact()
    {
        if (_tailCount == 0 && _segments.Count <= 1)
        {
            return;
        }

        var compacted = SegmentMerges.Compacted(
            _segments,
            static segment => segment.Count,
            _tailCount,
            MaxSegmentEntries,
            (first, segments, withTail) => KeySegment.Merge(_segments.GetRange(first, segments), withTail ? _tail.AsSpan(0, _tailCount) : []));
        _segments.Clear();
        _segments.AddRange(compacted);
        _tailCount = 0;
        Array.Clear(_tailSlots);
    }

    /// <summary>Writes the segments' sorted entries, then the tail's, for a snapshot.</summary>
    internal void WriteTo(SnapshotWriter writer)
    {
        writer.WriteInt64(_segments.Count);
        foreach (var segment in _segments)
        {
            writer.WriteArray(segment.Entries);
            writer.WriteArray<int>(segment.GroupStarts());
        }

        writer.WriteArray<KeyEntry>(_tail.AsSpan(0, _tailCount));
    }

    /// <summary>Reads what <see cref="WriteTo"/> wrote into this empty table; values must be below <paramref name="claims"/> (bar the posting's top bit).</summary>
    internal void ReadFrom(SnapshotReader reader, int claims)
    {
        var segments = reader.ReadCount(1 << 16);
        for (var segment = 0; segment < segments; segment++)
        {
            var entries = reader.ReadArray<SegmentEntry>();
            var groupStarts = reader.ReadArray<int>(KeySegment.Groups + 1);
            CheckValues(entries, claims);
            _segments.Add(KeySegment.FromSorted(entries, groupStarts));
            Count += entries.Length;
        }

        var tail = reader.ReadArray<KeyEntry>(TailLimit - 1);
        foreach (var entry in tail)
        {
            CheckValue(entry.Value, claims);
            if (entry.Low > ushort.MaxValue)
            {
                throw new SnapshotFormatException("A key table's unsorted entry has a low word over 16 bits.");
            }

            Add(entry.Key, entry.Value);
        }
    }

    private static void CheckValues(ReadOnlySpan<SegmentEntry> entries, int claims)
    {
        foreach (var entry in entries)
        {
            CheckValue(entry.Value, claims);
        }
    }

    private static void CheckValue(uint value, int claims)
    {
        if ((value & int.MaxValue) >= (uint)claims)
        {
            throw new SnapshotFormatException($"A key table posts claim {value & int.MaxValue} of {claims}.");
        }
    }

    private static int TailHome(in Key80 key) => (int)key.High & (TailSlots - 1);

    /// <summary>The values under one key: the tail's, then each segment's.</summary>
    public ref struct Values
    {
        private readonly KeyTable _table;
        private readonly Key80 _key;
        private readonly ulong _rest;
        private int _tailEntry; // the next tail entry's number + 1; 0: none left
        private int _segment = -1; // -1: still in the tail
        private int _at;
        private int _end;

        internal Values(KeyTable table, Key80 key)
        {
            _table = table;
            _key = key;
            _rest = key.Rest;
            _tailEntry = table._tailSlots[table.TailSlot(key)];
        }

        public uint Current { get; private set; }

        public bool MoveNext()
        {
            if (_segment < 0)
            {
                if (NextInTail())
                {
                    return true;
                }

                _segment = 0;
                _at = _end = 0;
            }

            var segments = _table._segments;
            while (true)
            {
                if (_at < _end)
                {
                    ref readonly var entry = ref segments[_segment - 1].Entry(_at++);
                    if (entry.Rest == _rest) // the group is the same: Locate found the key's bucket
                    {
                        Current = entry.Value;
                        return true;
                    }

                    _at = _end; // equal keys are adjacent: this segment has no more
                }

                if (_segment == segments.Count)
                {
                    return false;
                }

                (_at, _end) = segments[_segment++].Locate(_key);
            }
        }

        private bool NextInTail()
        {
            if (_tailEntry == 0)
            {
                return false;
            }

            Current = _table._tail[_tailEntry - 1].Value;
            _tailEntry = _table._tailPrevious[_tailEntry - 1];
            return true;
        }
    }
}

/// <summary>
/// An 80-bit fingerprint of a key: the top 80 bits of its XXH3-128 (<see cref="Fingerprint"/>),
/// <see cref="High"/> the top 64 and <see cref="Low"/> the 16 below them (decision record 0013).
/// </summary>
public readonly record struct Key80(ulong High, ushort Low) : IComparable<Key80>
{
    public static Key80 Of(UInt128 fingerprint) => new((ulong)(fingerprint >> 64), (ushort)(fingerprint >> 48));

    /// <summary>The key's low 64 bits (bits 16–79 from the top): what a segment stores, its top 16 bits being given by where it stores them.</summary>
    public ulong Rest => (High << 16) | Low;

    /// <summary>The key's top 16 bits: its group in a <see cref="KeySegment"/>.</summary>
    public int Group => (int)(High >> 48);

    /// <summary>The key whose group is <paramref name="group"/> and whose low 64 bits are <paramref name="rest"/>.</summary>
    public static Key80 FromParts(int group, ulong rest) => new(((ulong)group << 48) | (rest >> 16), (ushort)rest);

    public int CompareTo(Key80 other)
    {
        var byHigh = High.CompareTo(other.High);
        return byHigh != 0 ? byHigh : Low.CompareTo(other.Low);
    }
}

/// <summary>One (key, value) pair of a <see cref="KeyTable"/>'s tail: 16 bytes, the key whole (<see cref="Low"/> holds its 16 bits in 32, so no byte is padding).</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct KeyEntry(ulong High, uint Low, uint Value) : IComparable<KeyEntry>
{
    public KeyEntry(in Key80 key, uint value)
        : this(key.High, key.Low, value)
    {
    }

    public Key80 Key => new(High, (ushort)Low);

    public bool Is(in Key80 key) => High == key.High && Low == key.Low;

    /// <summary>By key, then value.</summary>
    public int CompareTo(KeyEntry other)
    {
        var byKey = Key.CompareTo(other.Key);
        return byKey != 0 ? byKey : Value.CompareTo(other.Value);
    }
}

/// <summary>
/// One (key, value) pair as a <see cref="KeySegment"/> stores it: the key's low 64 bits and the
/// value, 12 bytes (packed to 4-byte alignment); the key's top 16 bits are the group the segment
/// files it under.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal readonly record struct SegmentEntry(ulong Rest, uint Value) : IComparable<SegmentEntry>
{
    /// <summary>By key, then value (within one group).</summary>
    public int CompareTo(SegmentEntry other)
    {
        var byKey = Rest.CompareTo(other.Rest);
        return byKey != 0 ? byKey : Value.CompareTo(other.Value);
    }
}

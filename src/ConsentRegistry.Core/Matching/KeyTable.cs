using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// A multimap from 96-bit key fingerprints to 32-bit values (claim numbers), 16 bytes an entry
/// and no object per key (decision record 0013). Entries go to a small tail, hashed for lookups;
/// a full tail becomes an immutable <see cref="KeySegment"/> (entries sorted by key, found
/// through a bucket directory on the key's top bits), and segments merge as the PDQ index's do
/// (<see cref="SegmentMerges"/>), so a lookup visits a few segments, and one after
/// <see cref="Compact"/>. Entries are never removed: the index marks claims revoked instead.
/// Not thread-safe: one writer, or many readers, at a time.
/// </summary>
public sealed class KeyTable
{
    /// <summary>Entries the tail holds before it becomes a segment.</summary>
    internal const int TailLimit = 4096;

    private const int TailSlots = TailLimit * 2;

    private readonly List<KeySegment> _segments = [];
    private readonly KeyEntry[] _tail = new KeyEntry[TailLimit];
    private readonly int[] _tailSlots = new int[TailSlots]; // an entry's number + 1, by linear probing; 0 is empty
    private int _tailCount;
    private readonly List<Key96> _crowded = [];

    /// <summary>
    /// When above 0, each full tail made into a segment is searched for keys with this many
    /// entries in it, kept for <see cref="TakeCrowded"/>: how the index finds keys turning hot
    /// without counting a key's entries in every segment on every add.
    /// </summary>
    internal int CrowdedAt { get; set; }

    /// <summary>Entries added.</summary>
    public int Count { get; private set; }

    /// <summary>Immutable segments (the tail aside).</summary>
    public int SegmentCount => _segments.Count;

    /// <summary>As <see cref="PdqIndex.DeferMerges"/>: merges wait for <see cref="PrepareMerge"/> and <see cref="CommitMerge"/>.</summary>
    public bool DeferMerges { get; init; }

    /// <summary>Bytes held by the table's arrays.</summary>
    public long Bytes
    {
        get
        {
            long bytes = (TailLimit * Unsafe.SizeOf<KeyEntry>()) + (TailSlots * sizeof(int));
            foreach (var segment in _segments)
            {
                bytes += segment.Bytes;
            }

            return bytes;
        }
    }

    /// <summary>Adds <paramref name="value"/> under <paramref name="key"/>; a key may hold many values, and the same one twice.</summary>
    public void Add(in Key96 key, uint value)
    {
        _tail[_tailCount] = new KeyEntry(key.High, key.Low, value);
        var slot = TailHome(key);
        while (_tailSlots[slot] != 0)
        {
            slot = (slot + 1) & (TailSlots - 1);
        }

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
    internal List<Key96>? TakeCrowded()
    {
        if (_crowded.Count == 0)
        {
            return null;
        }

        List<Key96> taken = [.. _crowded];
        _crowded.Clear();
        return taken;
    }

    /// <summary>How many entries <paramref name="key"/> has in the tail: a few reads of a small, hashed array.</summary>
    internal int TailCount(in Key96 key)
    {
        var count = 0;
        for (int slot = TailHome(key), number; (number = _tailSlots[slot]) != 0; slot = (slot + 1) & (TailSlots - 1))
        {
            if (_tail[number - 1].Is(key))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>The values under <paramref name="key"/>, in no particular order.</summary>
    public Values Find(in Key96 key) => new(this, key);

    /// <summary>The keys holding at least <paramref name="count"/> values; only once <see cref="Compact"/> has left one segment and no tail.</summary>
    public List<Key96> KeysWithAtLeast(int count)
    {
        if (_tailCount > 0 || _segments.Count > 1)
        {
            throw new InvalidOperationException("Compact the table first.");
        }

        return _segments.Count == 0 ? [] : _segments[0].KeysWithAtLeast(count);
    }

    /// <summary>Builds the merge that is due, if any (<see cref="SegmentMerges.Due"/>): safe beside lookups, not beside another writer.</summary>
    internal SegmentMerge<KeySegment>? PrepareMerge()
    {
        var sources = SegmentMerges.Due(_segments, static segment => segment.Count, TailLimit);
        return sources == 0 ? null : new SegmentMerge<KeySegment>(_segments[^sources], sources, KeySegment.Merge(_segments[^sources..], []));
    }

    /// <summary>Puts a merge from <see cref="PrepareMerge"/> in place of the segments it was built from.</summary>
    internal void CommitMerge(SegmentMerge<KeySegment> merge) => merge.SwapInto(_segments, "key table");

    /// <summary>Merges every segment and the tail into one segment: the smallest and fastest shape, worth its cost once a bulk load is done.</summary>
    public void Compact()
    {
        if (_tailCount == 0 && _segments.Count <= 1)
        {
            return;
        }

        var merged = KeySegment.Merge(_segments, _tail.AsSpan(0, _tailCount));
        _segments.Clear();
        _segments.Add(merged);
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
        }

        writer.WriteArray<KeyEntry>(_tail.AsSpan(0, _tailCount));
    }

    /// <summary>Reads what <see cref="WriteTo"/> wrote into this empty table; values must be below <paramref name="claims"/> (bar the posting's top bit).</summary>
    internal void ReadFrom(SnapshotReader reader, int claims)
    {
        var segments = reader.ReadCount(1 << 16);
        for (var segment = 0; segment < segments; segment++)
        {
            var entries = reader.ReadArray<KeyEntry>();
            CheckValues(entries, claims);
            _segments.Add(KeySegment.FromSorted(entries));
            Count += entries.Length;
        }

        var tail = reader.ReadArray<KeyEntry>(TailLimit - 1);
        CheckValues(tail, claims);
        foreach (var entry in tail)
        {
            Add(entry.Key, entry.Value);
        }
    }

    private static void CheckValues(ReadOnlySpan<KeyEntry> entries, int claims)
    {
        foreach (var entry in entries)
        {
            if ((entry.Value & int.MaxValue) >= (uint)claims)
            {
                throw new SnapshotFormatException($"A key table posts claim {entry.Value & int.MaxValue} of {claims}.");
            }
        }
    }

    private static int TailHome(in Key96 key) => (int)key.High & (TailSlots - 1);

    /// <summary>The values under one key: the tail's, then each segment's.</summary>
    public ref struct Values
    {
        private readonly KeyTable _table;
        private readonly Key96 _key;
        private int _slot;
        private int _segment = -1; // -1: still probing the tail
        private int _at;
        private int _end;

        internal Values(KeyTable table, Key96 key)
        {
            _table = table;
            _key = key;
            _slot = TailHome(key);
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
                    if (entry.Is(_key))
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
            var slots = _table._tailSlots;
            for (int number; (number = slots[_slot]) != 0;)
            {
                _slot = (_slot + 1) & (TailSlots - 1);
                ref readonly var entry = ref _table._tail[number - 1];
                if (entry.Is(_key))
                {
                    Current = entry.Value;
                    return true;
                }
            }

            return false;
        }
    }
}

/// <summary>A 96-bit fingerprint of a key: the top 96 bits of its XXH3-128 (<see cref="Fingerprint"/>).</summary>
public readonly record struct Key96(ulong High, uint Low) : IComparable<Key96>
{
    public static Key96 Of(UInt128 fingerprint) => new((ulong)(fingerprint >> 64), (uint)(fingerprint >> 32));

    public int CompareTo(Key96 other)
    {
        var byHigh = High.CompareTo(other.High);
        return byHigh != 0 ? byHigh : Low.CompareTo(other.Low);
    }
}

/// <summary>One (key, value) pair of a <see cref="KeyTable"/>: 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct KeyEntry(ulong High, uint Low, uint Value) : IComparable<KeyEntry>
{
    public Key96 Key => new(High, Low);

    public bool Is(in Key96 key) => High == key.High && Low == key.Low;

    /// <summary>By key, then value.</summary>
    public int CompareTo(KeyEntry other)
    {
        var byKey = Key.CompareTo(other.Key);
        return byKey != 0 ? byKey : Value.CompareTo(other.Value);
    }
}

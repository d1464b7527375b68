using System.Runtime.InteropServices;
using ConsentRegistry.Core.Pdq;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// An exact Hamming-radius index over 256-bit PDQ hashes (DESIGN.md 3, decision record 0004):
/// multi-index hashing with 16 slots of 16 bits. Two hashes within distance r agree within
/// r / 16 bits (rounded down) in at least one slot, so a search probes, in each slot, the buckets
/// within that many flips of the query's word and checks every candidate's full distance.
/// Entries are hashes with an int value (the caller's claim number); there is no object per
/// hash. Entries are appended to a tail that searches scan; a full tail becomes an immutable
/// <see cref="PdqSegment"/> (30 bytes of record an entry, plus postings), and every
/// <see cref="Fanout"/> segments of one size class merge into one of the next (a log-structured
/// merge), so adds cost amortised O(log n) and a search visits few segments. A segment holds at
/// most <see cref="PdqSegment.MaxEntries"/> entries (its records are one array): past that, merges
/// and <see cref="Compact"/> leave several. Not thread-safe: one writer, or many readers, at a time.
/// </summary>
public sealed class PdqIndex
{
    /// <summary>Largest radius searched through the slots: beyond it a segment is scanned.</summary>
    public const int MaxProbedRadius = 63;

    /// <summary>Entries the unindexed tail holds before it becomes a segment.</summary>
    internal const int TailLimit = 2048;

    /// <summary>Segments of one size class that merge into one of the next.</summary>
    internal const int Fanout = SegmentMerges.Fanout;

    /// <summary>Entries outside the largest segment below which they are never merged into it.</summary>
    internal const int WholeMergeMinimum = SegmentMerges.WholeMergeMinimum;

    /// <summary>
    /// Probing reads candidates in random order, a scan reads every entry in order; measured on
    /// random hashes at 1 and 10 million entries, checking a probed candidate costs 12 to 17 times
    /// as much as checking a scanned entry (decision record 0004).
    /// </summary>
    private const double RandomReadCost = 12;

    /// <summary>
    /// The same for a segment small enough to stay in the cache (under <see cref="CachedSegment"/>
    /// entries, 2 MB of records): chosen by comparing the automatic choice with forced probes and
    /// forced scans on 1,000,000 hashes as added, at radius 31, 47 and 63 (decision record 0004).
    /// </summary>
    private const double CachedReadCost = 3;

    private const int CachedSegment = 1 << 16;

    private readonly List<PdqSegment> _segments = [];
    private readonly ulong[] _tailHashes = new ulong[TailLimit * 4];
    private readonly int[] _tailValues = new int[TailLimit];
    private int _tailCount;
    private readonly int _maxSegmentEntries = PdqSegment.MaxEntries;

    /// <summary>
    /// The most entries one segment holds: <see cref="PdqSegment.MaxEntries"/>, what its record array
    /// can; set lower (at least <see cref="TailLimit"/>) only to test what the cap does.
    /// </summary>
    internal int MaxSegmentEntries
    {
        get => _maxSegmentEntries;
        init => _maxSegmentEntries = value is >= TailLimit && value <= PdqSegment.MaxEntries
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, $"A segment's cap is {TailLimit} to {PdqSegment.MaxEntries} entries.");
    }

    /// <summary>How searches choose between probing the slots and scanning; <see cref="PdqSearchStrategy.Auto"/> unless measuring.</summary>
    public PdqSearchStrategy Strategy { get; set; }

    /// <summary>Number of hashes added.</summary>
    public long Count { get; private set; }

    /// <summary>Number of immutable segments (the tail aside).</summary>
    public int SegmentCount => _segments.Count;

    /// <summary>Entries in each segment, oldest first.</summary>
    internal IEnumerable<int> SegmentSizes => _segments.Select(segment => segment.Count);

    /// <summary>Bytes held by the index's arrays, the 4-byte values included.</summary>
    public long Bytes
    {
        get
        {
            var bytes = _tailHashes.LongLength * sizeof(ulong) + _tailValues.LongLength * sizeof(int);
            foreach (var segment in _segments)
            {
                bytes += segment.Bytes;
            }

            return bytes;
        }
    }

    /// <summary>Adds <paramref name="hash"/> with <paramref name="value"/>; the same hash may be added with many values.</summary>
    public void Add(in PdqHash hash, int value)
    {
        var at = _tailCount * 4;
        for (var part = 0; part < 4; part++)
        {
            _tailHashes[at + part] = hash.GetPart(part);
        }

        _tailValues[_tailCount++] = value;
        Count++;
        if (_tailCount == TailLimit)
        {
            _segments.Add(PdqSegment.Build(_tailHashes, _tailValues));
            _tailCount = 0;
            if (!DeferMerges)
            {
                while (PrepareMerge() is { } merge)
                {
                    CommitMerge(merge);
                }
            }
        }
    }

    /// <summary>
    /// When true, <see cref="Add"/> leaves merges to <see cref="PrepareMerge"/> and
    /// <see cref="CommitMerge"/>, so that a writer can build them outside its lock: a merge reads
    /// only immutable segments, and only the swap changes what searches see.
    /// </summary>
    public bool DeferMerges { get; init; }

    /// <summary>
    /// Builds the merge that is due, if any. When the segments other than the largest hold a
    /// quarter of the entries (and at least <see cref="WholeMergeMinimum"/>), all merge into one:
    /// segments of 2^16 entries or more are held to the memory budget with narrower buckets, so
    /// mid-sized ones cost a search several times their share, and this keeps them few (a
    /// geometric series: each entry is rebuilt about four times more). Otherwise, when the newest
    /// <see cref="Fanout"/> segments share a size class (<see cref="TailLimit"/> ·
    /// <see cref="Fanout"/>^c entries or a little more), they become one of the next. No merge
    /// outgrows <see cref="MaxSegmentEntries"/> (<see cref="SegmentMerges.Due"/>). Safe beside
    /// searches; not beside another writer.
    /// </summary>
    internal SegmentMerge<PdqSegment>? PrepareMerge()
    {
        var sources = MergeDue();
        return sources == 0 ? null : new SegmentMerge<PdqSegment>(_segments[^sources], sources, Merge(_segments.Count - sources, sources, withTail: false));
    }

    /// <summary>Puts a merge from <see cref="PrepareMerge"/> in place of the segments it was built from.</summary>
    internal void CommitMerge(SegmentMerge<PdqSegment> merge) => merge.SwapInto(_segments, "PDQ index");

    private int MergeDue() => SegmentMerges.Due(_segments, static segment => segment.Count, TailLimit, MaxSegmentEntries);

    /// <summary>
    /// Merges every segment and the tail into one segment: the fastest and smallest shape to
    /// search, worth its cost once a bulk load is done. Past <see cref="MaxSegmentEntries"/>
    /// entries, into as few as hold them (<see cref="SegmentMerges.CompactRuns"/>).
    /// </summary>
    public void Compact()
    {
        if (_tailCount == 0 && _segments.Count <= 1)
        {
            return;
        }

        var compacted = SegmentMerges.Compacted(_segments, static segment => segment.Count, _tailCount, MaxSegmentEntries, Merge);
        _segments.Clear();
        _segments.AddRange(compacted);
        _tailCount = 0;
    }

    /// <summary>
    /// Reports to <paramref name="sink"/> every hash within <paramref name="maxDistance"/> bits of
    /// <paramref name="query"/>, each exactly once, in no particular order.
    /// </summary>
    public void Search<TSink>(in PdqHash query, int maxDistance, ref TSink sink)
        where TSink : IPdqHitSink, allows ref struct
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDistance);
        var q = new PdqQuery(query, Math.Min(maxDistance, PdqHash.BitCount));
        foreach (var segment in _segments)
        {
            if (ShouldProbe(segment, q))
            {
                segment.Search(q, ref sink);
            }
            else
            {
                segment.Scan(q, ref sink);
            }
        }

        ref var tail = ref MemoryMarshal.GetArrayDataReference(_tailHashes);
        for (var entry = 0; entry < _tailCount; entry++)
        {
            q.CheckScanned(ref tail, _tailValues, entry, ref sink);
        }
    }

    /// <summary>Appends to <paramref name="hits"/> every hash within <paramref name="maxDistance"/> bits of <paramref name="query"/>.</summary>
    public void Search(in PdqHash query, int maxDistance, List<PdqHit> hits)
    {
        var sink = new PdqHitList(hits);
        Search(query, maxDistance, ref sink);
    }

    private bool ShouldProbe(PdqSegment segment, in PdqQuery query) => query.Radius <= MaxProbedRadius && Strategy switch
    {
        PdqSearchStrategy.Probe => true,
        PdqSearchStrategy.Scan => false,
        _ => segment.ExpectedCandidates(query.Flips) * (segment.Count < CachedSegment ? CachedReadCost : RandomReadCost) < segment.Count,
    };

    /// <summary>Writes each segment's entries (four ulongs a hash, then the values), then the tail's, for a snapshot.</summary>
    internal void WriteTo(SnapshotWriter writer)
    {
        writer.WriteInt64(_segments.Count);
        foreach (var segment in _segments)
        {
            var hashes = GC.AllocateUninitializedArray<ulong>(HashWords(segment.Count));
            var values = GC.AllocateUninitializedArray<int>(segment.Count);
            segment.CopyTo(hashes, values);
            writer.WriteArray<ulong>(hashes);
            writer.WriteArray<int>(values);
        }

        writer.WriteArray<ulong>(_tailHashes.AsSpan(0, _tailCount * 4));
        writer.WriteArray<int>(_tailValues.AsSpan(0, _tailCount));
    }

    /// <summary>Reads what <see cref="WriteTo"/> wrote into this empty index, building the segments on every core; values must be below <paramref name="claims"/>.</summary>
    internal void ReadFrom(SnapshotReader reader, int claims)
    {
        var count = reader.ReadCount(1 << 16);
        var entries = new (ulong[] Hashes, int[] Values)[count];
        for (var segment = 0; segment < count; segment++)
        {
            entries[segment] = (reader.ReadArray<ulong>(HashWords(PdqSegment.MaxEntries)), reader.ReadArray<int>(PdqSegment.MaxEntries));
            CheckEntries(entries[segment].Hashes, entries[segment].Values, claims);
        }

        var built = new PdqSegment[count];
        Parallel.For(0, count, segment => built[segment] = PdqSegment.Build(entries[segment].Hashes, entries[segment].Values));
        _segments.AddRange(built);
        Count = built.Sum(segment => (long)segment.Count);
        var tailHashes = reader.ReadArray<ulong>((TailLimit - 1) * 4);
        var tailValues = reader.ReadArray<int>(TailLimit - 1);
        CheckEntries(tailHashes, tailValues, claims);
        for (var entry = 0; entry < tailValues.Length; entry++)
        {
            Add(new PdqHash(tailHashes[entry * 4], tailHashes[(entry * 4) + 1], tailHashes[(entry * 4) + 2], tailHashes[(entry * 4) + 3]), tailValues[entry]);
        }
    }

    private static void CheckEntries(ulong[] hashes, int[] values, int claims)
    {
        if (hashes.Length != values.Length * 4)
        {
            throw new SnapshotFormatException("A PDQ segment's hashes and values differ in count.");
        }

        foreach (var value in values)
        {
            if ((uint)value >= (uint)claims)
            {
                throw new SnapshotFormatException($"A PDQ entry posts claim {value} of {claims}.");
            }
        }
    }

    /// <summary>The ulongs that hold <paramref name="entries"/> full hashes, four each; more than one array holds are refused.</summary>
    internal static int HashWords(int entries)
    {
        var words = (long)entries * 4;
        return words <= Array.MaxLength
            ? (int)words
            : throw new ArgumentOutOfRangeException(nameof(entries), entries, "More PDQ hashes than one array holds.");
    }

    /// <summary>Builds one segment from <paramref name="segments"/> segments from <paramref name="first"/> on and, if asked, the tail.</summary>
    private PdqSegment Merge(int first, int segments, bool withTail)
    {
        var sources = _segments.GetRange(first, segments);
        var total = sources.Sum(segment => (long)segment.Count) + (withTail ? _tailCount : 0);
        if (total > MaxSegmentEntries)
        {
            throw new InvalidOperationException($"A merged PDQ segment of {total:N0} entries would pass the cap of {MaxSegmentEntries:N0}.");
        }

        var count = (int)total;
        var hashes = GC.AllocateUninitializedArray<ulong>(HashWords(count));
        var values = GC.AllocateUninitializedArray<int>(count);
        var at = 0;
        foreach (var segment in sources)
        {
            segment.CopyTo(hashes.AsSpan(HashWords(at), HashWords(segment.Count)), values.AsSpan(at, segment.Count));
            at += segment.Count;
        }

        if (withTail)
        {
            _tailHashes.AsSpan(0, _tailCount * 4).CopyTo(hashes.AsSpan(HashWords(at)));
            _tailValues.AsSpan(0, _tailCount).CopyTo(values.AsSpan(at));
        }

        return PdqSegment.Build(hashes, values);
    }
}

/// <summary>How a <see cref="PdqIndex"/> search reads a segment.</summary>
public enum PdqSearchStrategy
{
    /// <summary>Probe the slots where the expected candidates cost less than a scan, else scan.</summary>
    Auto,

    /// <summary>Always probe the slots (up to <see cref="PdqIndex.MaxProbedRadius"/>).</summary>
    Probe,

    /// <summary>Always scan every entry.</summary>
    Scan,
}

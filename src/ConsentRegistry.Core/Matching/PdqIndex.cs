using System.Runtime.InteropServices;
using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// An exact Hamming-radius index over 256-bit PDQ hashes (DESIGN.md 3, decision record 0004):
/// multi-index hashing with 16 slots of 16 bits. Two hashes within distance r agree within
/// r / 16 bits (rounded down) in at least one slot, so a search probes, in each slot, the buckets
/// within that many flips of the query's word and checks every candidate's full distance.
/// Each entry is a hash (four ulongs) and an int value (the caller's claim number); there is no
/// object per hash. Entries are appended to a tail that searches scan; a full tail becomes an
/// immutable <see cref="PdqSegment"/>, and every <see cref="Fanout"/> segments of one size class
/// merge into one of the next (a log-structured merge), so adds cost amortised O(log n) and a
/// search visits few segments. Not thread-safe: one writer, or many readers, at a time.
/// </summary>
public sealed class PdqIndex
{
    /// <summary>Largest radius searched through the slots: beyond it a segment is scanned.</summary>
    public const int MaxProbedRadius = 63;

    /// <summary>Entries the unindexed tail holds before it becomes a segment.</summary>
    internal const int TailLimit = 2048;

    /// <summary>Segments of one size class that merge into one of the next.</summary>
    internal const int Fanout = 4;

    /// <summary>
    /// Probing reads candidates in random order, a scan reads every entry in order; measured on
    /// random hashes at 1 and 10 million entries, checking a probed candidate costs 12 to 17 times
    /// as much as checking a scanned entry (decision record 0004).
    /// </summary>
    private const double RandomReadCost = 12;

    private readonly List<PdqSegment> _segments = [];
    private ulong[] _hashes = [];
    private int[] _values = [];
    private int _indexed;

    /// <summary>How searches choose between probing the slots and scanning; <see cref="PdqSearchStrategy.Auto"/> unless measuring.</summary>
    public PdqSearchStrategy Strategy { get; set; }

    /// <summary>Number of hashes added.</summary>
    public int Count { get; private set; }

    /// <summary>Number of immutable segments (the tail aside).</summary>
    public int SegmentCount => _segments.Count;

    /// <summary>Bytes held by the index's arrays, spare capacity included.</summary>
    public long Bytes
    {
        get
        {
            var bytes = _hashes.LongLength * sizeof(ulong) + _values.LongLength * sizeof(int);
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
        if (Count == _values.Length)
        {
            var capacity = Math.Max(1024, _values.Length + (_values.Length >> 1));
            Array.Resize(ref _hashes, capacity * 4);
            Array.Resize(ref _values, capacity);
        }

        var at = Count * 4;
        for (var part = 0; part < 4; part++)
        {
            _hashes[at + part] = hash.GetPart(part);
        }

        _values[Count++] = value;
        if (Count - _indexed >= TailLimit)
        {
            _segments.Add(PdqSegment.Build(_hashes, _values, _indexed, Count - _indexed));
            _indexed = Count;
            MergeFullClasses();
        }
    }

    /// <summary>
    /// Merges every segment and the tail into one segment and drops spare capacity: the fastest
    /// shape to search, worth its cost once a bulk load is done.
    /// </summary>
    public void Compact()
    {
        if (Count > _indexed || _segments.Count > 1)
        {
            _segments.Clear();
            Array.Resize(ref _hashes, Count * 4);
            Array.Resize(ref _values, Count);
            if (Count > 0)
            {
                _segments.Add(PdqSegment.Build(_hashes, _values, 0, Count));
            }

            _indexed = Count;
        }
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
                segment.Search(_hashes, _values, q, ref sink);
            }
            else
            {
                Scan(q, segment.Start, segment.End, ref sink);
            }
        }

        Scan(q, _indexed, Count, ref sink);
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
        _ => segment.ExpectedCandidates(query.Flips) * RandomReadCost < segment.Count,
    };

    private void Scan<TSink>(in PdqQuery query, int start, int end, ref TSink sink)
        where TSink : IPdqHitSink, allows ref struct
    {
        ref var hashes = ref MemoryMarshal.GetArrayDataReference(_hashes);
        for (var entry = start; entry < end; entry++)
        {
            query.CheckScanned(ref hashes, _values, entry, ref sink);
        }
    }

    /// <summary>
    /// Size class c holds segments of <see cref="TailLimit"/> · <see cref="Fanout"/>^c entries or a
    /// little more; when the newest <see cref="Fanout"/> segments share a class they become one of the next.
    /// </summary>
    private void MergeFullClasses()
    {
        while (_segments.Count >= Fanout)
        {
            var last = SizeClass(_segments[^1].Count);
            for (var i = 2; i <= Fanout; i++)
            {
                if (SizeClass(_segments[^i].Count) != last)
                {
                    return;
                }
            }

            var start = _segments[^Fanout].Start;
            _segments.RemoveRange(_segments.Count - Fanout, Fanout);
            _segments.Add(PdqSegment.Build(_hashes, _values, start, _indexed - start));
        }
    }

    private static int SizeClass(int count)
    {
        var size = 0;
        for (var n = count / TailLimit; n >= Fanout; n /= Fanout)
        {
            size++;
        }

        return size;
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

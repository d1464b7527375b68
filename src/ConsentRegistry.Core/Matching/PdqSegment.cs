using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// An immutable multi-index (16 slots of 16 bits) over some entries of a <see cref="PdqIndex"/>
/// (decision record 0004). Its build sorts the entries by word 0, so slot 0 needs no postings:
/// its buckets are runs of the entries. Each entry is a 30-byte record, its hash less word 0:
/// in a segment of 2^16 entries or more slot 0 has a bucket per word, so an entry's word 0 is
/// its bucket's key; a smaller segment keeps word 0 aside. Slots 1 to 15 keep inverted lists
/// (<see cref="PdqPostings"/>), as wide as the memory budget allows.
/// </summary>
internal sealed partial class PdqSegment
{
    public const int Slots = 16;

    /// <summary>Bytes a record: parts 1 to 3 of the hash, then bits 16 to 63 of part 0.</summary>
    private const int RecordBytes = 30;

    /// <summary>Buckets probed in a slot at a flip budget of 3: 1 + 16 + C(16, 2) + C(16, 3).</summary>
    private const int MaxProbes = 1 + 16 + 120 + 560;

    private readonly byte[] _records;
    private readonly int[] _values;
    private readonly int _firstBits;
    private BucketStarts _first;
    private readonly ushort[]? _firstWords;
    private readonly PdqPostings[] _postings;

    /// <summary>Number of entries.</summary>
    public int Count => _values.Length;

    /// <summary>Bytes held by the segment's arrays, the values (4 bytes an entry) included.</summary>
    public long Bytes
    {
        get
        {
            var bytes = _records.LongLength + _values.LongLength * sizeof(int) + _first.Bytes + (_firstWords?.LongLength ?? 0) * sizeof(ushort);
            foreach (var postings in _postings)
            {
                bytes += postings.Bytes;
            }

            return bytes;
        }
    }

    /// <summary>
    /// How many candidates a search with <paramref name="flips"/> per slot reads from this segment,
    /// for an even spread of words: each slot probes the buckets within the flip budget.
    /// </summary>
    public double ExpectedCandidates(int flips)
    {
        var candidates = (double)Probes(_firstBits, flips) * Count / (1 << _firstBits);
        foreach (var postings in _postings)
        {
            candidates += (double)Probes(postings.Bits, flips) * Count / (1 << postings.Bits);
        }

        return candidates;
    }

    /// <summary>Reports every entry of the segment within the query's radius, once.</summary>
    public void Search<TSink>(in PdqQuery query, ref TSink sink)
        where TSink : IPdqHitSink, allows ref struct
    {
        // Each stage prefetches what the next one reads, so that the cache misses of a slot's
        // buckets, and then of its candidates, overlap instead of following one another.
        Span<int> keys = stackalloc int[MaxProbes];
        var probes = ProbeKeys(query.Word(0) >> (16 - _firstBits), query.Flips, _firstBits, keys);
        foreach (var key in probes)
        {
            _first.Prefetch(key);
        }

        foreach (var key in probes)
        {
            PrefetchRecord(_first[key]);
        }

        foreach (var key in probes)
        {
            for (int entry = _first[key], end = _first[key + 1]; entry < end; entry++)
            {
                CheckFull(query, entry, FirstWord(key, entry), slot: 0, ref sink);
            }
        }

        var batch = default(CandidateBatch);
        for (var slot = 1; slot < Slots; slot++)
        {
            var postings = _postings[slot - 1];
            probes = ProbeKeys(query.Word(slot) >> (16 - postings.Bits), query.Flips, postings.Bits, keys);
            foreach (var key in probes)
            {
                postings.Starts.Prefetch(key);
            }

            foreach (var key in probes)
            {
                postings.Prefetch(key, postings.Starts[key]);
            }

            foreach (var key in probes)
            {
                var bucket = postings.Open(key);
                while (bucket.Next(out var entry))
                {
                    PrefetchRecord(entry);
                    if (batch.Add(entry))
                    {
                        Flush(ref batch, query, slot, ref sink);
                    }
                }
            }

            Flush(ref batch, query, slot, ref sink);
        }
    }

    /// <summary>Checks every entry in order: cheaper than probing when the radius is large or the segment small.</summary>
    public void Scan<TSink>(in PdqQuery query, ref TSink sink)
        where TSink : IPdqHitSink, allows ref struct
    {
        var q0High = query.Q0 & ~0xFFFFUL;
        for (var key = 0; key < 1 << _firstBits; key++)
        {
            for (int entry = _first[key], end = _first[key + 1]; entry < end; entry++)
            {
                // The 240 stored bits first, as a probe does: word 0 only for the rare near entry.
                ref var record = ref Record(entry);
                var partial = BitOperations.PopCount(Unsafe.ReadUnaligned<ulong>(ref record) ^ query.Q1)
                    + BitOperations.PopCount(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref record, 8)) ^ query.Q2)
                    + BitOperations.PopCount(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref record, 16)) ^ query.Q3)
                    + BitOperations.PopCount((Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref record, 22)) & ~0xFFFFUL) ^ q0High);
                if (partial <= query.Radius)
                {
                    CheckFull(query, entry, FirstWord(key, entry), slot: -1, ref sink);
                }
            }
        }
    }

    /// <summary>Writes every entry's full hash (four ulongs) and value, in the segment's order.</summary>
    public void CopyTo(Span<ulong> hashes, Span<int> values)
    {
        _values.CopyTo(values);
        for (var key = 0; key < 1 << _firstBits; key++)
        {
            for (int entry = _first[key], end = _first[key + 1]; entry < end; entry++)
            {
                var hash = Read(entry, FirstWord(key, entry));
                for (var part = 0; part < 4; part++)
                {
                    hashes[(entry << 2) + part] = hash.GetPart(part);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ushort FirstWord(int key, int entry) => _firstWords is null ? (ushort)key : _firstWords[entry];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref byte Record(int entry) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_records), (nint)entry * RecordBytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PrefetchRecord(int entry)
    {
        ref var record = ref Record(entry);
        Prefetch.Line(ref record);
        Prefetch.Line(ref Unsafe.Add(ref record, RecordBytes - 1));
    }

    private PdqHash Read(int entry, ushort firstWord)
    {
        ref var record = ref Record(entry);
        return new PdqHash(
            (Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref record, 22)) & ~0xFFFFUL) | firstWord,
            Unsafe.ReadUnaligned<ulong>(ref record),
            Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref record, 8)),
            Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref record, 16)));
    }

    /// <summary>Reports an entry whose word 0 is known; <paramref name="slot"/> -1 for a scan, which needs no first-slot rule.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckFull<TSink>(in PdqQuery query, int entry, ushort firstWord, int slot, ref TSink sink)
        where TSink : IPdqHitSink, allows ref struct
    {
        var hash = Read(entry, firstWord);
        var x0 = hash.GetPart(0) ^ query.Q0;
        var x1 = hash.GetPart(1) ^ query.Q1;
        var x2 = hash.GetPart(2) ^ query.Q2;
        var x3 = hash.GetPart(3) ^ query.Q3;
        var distance = BitOperations.PopCount(x0) + BitOperations.PopCount(x1) + BitOperations.PopCount(x2) + BitOperations.PopCount(x3);
        if (distance <= query.Radius && (slot < 0 || query.IsFirstQualifying(x0, x1, x2, x3, slot)))
        {
            sink.Add(_values[entry], distance, hash);
        }
    }

    /// <summary>
    /// Reports a candidate found through slot 1 to 15. The 240 bits of its record settle almost
    /// every candidate; only one within the radius on those needs word 0, from slot 0's buckets.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckCandidate<TSink>(in PdqQuery query, int entry, int slot, ref TSink sink)
        where TSink : IPdqHitSink, allows ref struct
    {
        ref var record = ref Record(entry);
        var partial = BitOperations.PopCount(Unsafe.ReadUnaligned<ulong>(ref record) ^ query.Q1)
            + BitOperations.PopCount(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref record, 8)) ^ query.Q2)
            + BitOperations.PopCount(Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref record, 16)) ^ query.Q3)
            + BitOperations.PopCount((Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref record, 22)) ^ query.Q0) & ~0xFFFFUL);
        if (partial <= query.Radius)
        {
            CheckFull(query, entry, _firstWords?[entry] ?? (ushort)_first.BucketOf(entry), slot, ref sink);
        }
    }

    private static long Probes(int bits, int flips)
    {
        long probes = 1, choose = 1;
        for (var k = 1; k <= Math.Min(flips, 3); k++)
        {
            choose = choose * (bits - k + 1) / k;
            probes += choose;
        }

        return probes;
    }

    /// <summary>The buckets within <paramref name="flips"/> bits (at most 3) of <paramref name="key"/>, each once.</summary>
    private static Span<int> ProbeKeys(int key, int flips, int bits, Span<int> keys)
    {
        var n = 0;
        keys[n++] = key;
        for (var a = 0; a < bits && flips >= 1; a++)
        {
            var ka = key ^ (1 << a);
            keys[n++] = ka;
            for (var b = a + 1; b < bits && flips >= 2; b++)
            {
                var kb = ka ^ (1 << b);
                keys[n++] = kb;
                for (var c = b + 1; c < bits && flips >= 3; c++)
                {
                    keys[n++] = kb ^ (1 << c);
                }
            }
        }

        return keys[..n];
    }

    private void Flush<TSink>(ref CandidateBatch batch, in PdqQuery query, int slot, ref TSink sink)
        where TSink : IPdqHitSink, allows ref struct
    {
        for (var i = 0; i < batch.Count; i++)
        {
            CheckCandidate(query, batch[i], slot, ref sink);
        }

        batch.Count = 0;
    }

    /// <summary>Candidates whose records are being prefetched, checked a batch at a time.</summary>
    private struct CandidateBatch
    {
        private Entries _entries;

        public int Count;

        public readonly int this[int i] => _entries[i];

        /// <summary>Adds a candidate; true when the batch is full.</summary>
        public bool Add(int entry)
        {
            _entries[Count++] = entry;
            return Count == Entries.Length;
        }

        [InlineArray(Length)]
        private struct Entries
        {
            public const int Length = 32;
            private int _first;
        }
    }
}

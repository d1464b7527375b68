using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// An immutable multi-index (16 slots of 16 bits) over a contiguous range of a
/// <see cref="PdqIndex"/>'s entries. Building it sorts the range by word 0, so slot 0 needs no
/// postings: its buckets are runs of the hash array itself. Slots 1 to 15 keep each bucket's
/// entries (their numbers within the range, ascending) in Elias–Fano form: the low 16 bits in a
/// ushort, the rest in unary in a bit vector of about 2 bits an entry; about 2.25 bytes an entry
/// and slot in all. A small range buckets its words by their top bits only, so that its bucket
/// table stays in proportion; the check drops the words further than the flip budget.
/// </summary>
internal sealed partial class PdqSegment
{
    public const int Slots = 16;
    private const int LowBits = 16;

    /// <summary>Buckets probed in a slot at a flip budget of 3: 1 + 16 + C(16, 2) + C(16, 3).</summary>
    private const int MaxProbes = 1 + 16 + 120 + 560;

    private readonly int _bits;
    private readonly int _buckets;
    private readonly int _blocks;
    private readonly int _highWords;
    private readonly int[] _offsets;
    private readonly ushort[] _low;
    private readonly ulong[] _high;

    private PdqSegment(int start, int count)
    {
        Start = start;
        Count = count;
        _bits = Math.Clamp(BitOperations.Log2((uint)Math.Max(count, 1)) - 1, 8, 16);
        _buckets = 1 << _bits;
        _blocks = Math.Max(1, (count + (1 << LowBits) - 1) >> LowBits);
        _highWords = (int)(((long)count + (long)_buckets * _blocks + 63) >> 6) + 1;
        _offsets = new int[Slots * (_buckets + 1)];
        _low = new ushort[(Slots - 1) * (long)count];
        _high = new ulong[(Slots - 1) * (long)_highWords];
    }

    /// <summary>The first entry of the range.</summary>
    public int Start { get; }

    /// <summary>Number of entries in the range.</summary>
    public int Count { get; }

    /// <summary>The entry after the range.</summary>
    public int End => Start + Count;

    /// <summary>Bytes held by the segment's arrays.</summary>
    public long Bytes => _offsets.LongLength * sizeof(int) + _low.LongLength * sizeof(ushort) + _high.LongLength * sizeof(ulong);

    /// <summary>
    /// How many candidates a search with <paramref name="flips"/> per slot reads from this segment,
    /// for an even spread of words: 16 slots, each probing the buckets within the flip budget.
    /// </summary>
    public double ExpectedCandidates(int flips) => Slots * (double)Probes(_bits, flips) * Count / _buckets;

    /// <summary>Reports every entry of the segment within the query's radius, once.</summary>
    public void Search<TSink>(ulong[] hashes, int[] values, in PdqQuery query, ref TSink sink)
        where TSink : IPdqHitSink, allows ref struct
    {
        // Each stage prefetches what the next one reads, so that the cache misses of a slot's
        // buckets, and then of its candidates, overlap instead of following one another.
        Span<int> keys = stackalloc int[MaxProbes];
        var batch = default(CandidateBatch);
        ref var offsetData = ref MemoryMarshal.GetArrayDataReference(_offsets);
        ref var hashData = ref MemoryMarshal.GetArrayDataReference(hashes);
        for (var slot = 0; slot < Slots; slot++)
        {
            ref var offsets = ref Unsafe.Add(ref offsetData, slot * (_buckets + 1));
            var probes = ProbeKeys(query.Word(slot) >> (16 - _bits), query.Flips, keys);
            foreach (var key in probes)
            {
                Prefetch.Line(ref Unsafe.Add(ref offsets, key));
            }

            if (slot == 0)
            {
                foreach (var key in probes)
                {
                    Prefetch.Line(ref Unsafe.Add(ref hashData, (nint)(Start + Unsafe.Add(ref offsets, key)) * 4));
                }

                foreach (var key in probes)
                {
                    for (int entry = Start + Unsafe.Add(ref offsets, key), end = Start + Unsafe.Add(ref offsets, key + 1); entry < end; entry++)
                    {
                        query.Check(ref hashData, values, entry, 0, ref sink);
                    }
                }

                continue;
            }

            ref var low = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_low), (nint)(slot - 1) * Count);
            ref var high = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_high), (nint)(slot - 1) * _highWords);
            foreach (var key in probes)
            {
                var k = Unsafe.Add(ref offsets, key);
                Prefetch.Line(ref Unsafe.Add(ref low, k));
                Prefetch.Line(ref Unsafe.Add(ref high, (nint)((k + (long)key * _blocks) >> 6)));
            }

            foreach (var key in probes)
            {
                Decode(ref low, ref high, ref offsets, key, ref hashData, values, query, slot, ref batch, ref sink);
            }

            batch.Flush(ref hashData, values, query, slot, ref sink);
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
    private Span<int> ProbeKeys(int key, int flips, Span<int> keys)
    {
        var n = 0;
        keys[n++] = key;
        for (var a = 0; a < _bits && flips >= 1; a++)
        {
            var ka = key ^ (1 << a);
            keys[n++] = ka;
            for (var b = a + 1; b < _bits && flips >= 2; b++)
            {
                var kb = ka ^ (1 << b);
                keys[n++] = kb;
                for (var c = b + 1; c < _bits && flips >= 3; c++)
                {
                    keys[n++] = kb ^ (1 << c);
                }
            }
        }

        return keys[..n];
    }

    /// <summary>
    /// Reads the entries of bucket <paramref name="key"/> of a slot into the batch: the j-th entry
    /// of the slot (in bucket order) is the j-th set bit, and the clear bits before it count the
    /// buckets before its own (each <see cref="_blocks"/> wide) plus its own block of 2^16 entries.
    /// </summary>
    private void Decode<TSink>(
        ref ushort low, ref ulong high, ref int offsets, int key, ref ulong hashData, int[] values, in PdqQuery query, int slot,
        scoped ref CandidateBatch batch, ref TSink sink)
        where TSink : IPdqHitSink, allows ref struct
    {
        var k = Unsafe.Add(ref offsets, key);
        var end = Unsafe.Add(ref offsets, key + 1);
        if (k == end)
        {
            return;
        }

        var zerosBefore = (long)key * _blocks;
        var position = k + zerosBefore;
        var word = (nint)(position >> 6);
        var bits = Unsafe.Add(ref high, word) & (ulong.MaxValue << (int)(position & 63));
        while (true)
        {
            while (bits == 0)
            {
                bits = Unsafe.Add(ref high, ++word);
            }

            var block = (int)(((long)word << 6) + BitOperations.TrailingZeroCount(bits) - k - zerosBefore);
            var entry = Start + ((block << LowBits) | Unsafe.Add(ref low, k));
            Prefetch.Line(ref Unsafe.Add(ref hashData, (nint)entry * 4));
            if (batch.Add(entry))
            {
                batch.Flush(ref hashData, values, query, slot, ref sink);
            }

            if (++k == end)
            {
                return;
            }

            bits &= bits - 1;
        }
    }

    /// <summary>Candidates whose hashes are being prefetched, checked a batch at a time.</summary>
    private struct CandidateBatch
    {
        private Entries _entries;
        private int _count;

        /// <summary>Adds a candidate; true when the batch is full.</summary>
        public bool Add(int entry)
        {
            _entries[_count++] = entry;
            return _count == Entries.Length;
        }

        public void Flush<TSink>(ref ulong hashData, int[] values, in PdqQuery query, int slot, ref TSink sink)
            where TSink : IPdqHitSink, allows ref struct
        {
            for (var i = 0; i < _count; i++)
            {
                query.Check(ref hashData, values, _entries[i], slot, ref sink);
            }

            _count = 0;
        }

        [InlineArray(Length)]
        private struct Entries
        {
            public const int Length = 32;
            private int _first;
        }
    }
}

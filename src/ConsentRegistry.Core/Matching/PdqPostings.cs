using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// One slot's inverted lists in a <see cref="PdqSegment"/>: for each of its 2^<see cref="Bits"/>
/// buckets, the entries (positions in the segment, ascending) whose word falls in it, in
/// Elias–Fano form. An entry's low <see cref="Bits"/> bits are packed in <see cref="_low"/>; its
/// high part (its block of 2^<see cref="Bits"/> entries) is in unary in <see cref="_high"/>: the
/// j-th entry of the slot, in bucket order, is the j-th set bit, and the clear bits before it
/// count the buckets before its own (<see cref="_blocks"/> each) plus its block. That is
/// <see cref="Bits"/> + 2 bits an entry, against log₂ C(n·2^b, n) ≈ b + 1.44 for any list coding.
/// </summary>
internal sealed class PdqPostings
{
    private readonly byte[] _low;
    private readonly ulong[] _high;
    private readonly int _blocks;
    private readonly uint _mask;

    /// <summary>Fills the lists from each entry's bucket, in entry order.</summary>
    /// <param name="keys">The bucket of every entry of the segment.</param>
    /// <param name="bits">Bucket bits (and low bits): 8 to 16.</param>
    public PdqPostings(ReadOnlySpan<ushort> keys, int bits)
    {
        var count = keys.Length;
        var buckets = 1 << bits;
        Bits = bits;
        _mask = (uint)buckets - 1;
        _blocks = Math.Max(1, (count + buckets - 1) >> bits);

        // Four spare bytes let every read be one unaligned uint.
        _low = new byte[(((long)count * bits + 7) >> 3) + sizeof(uint)];
        _high = new ulong[(((long)count + (long)buckets * _blocks + 63) >> 6) + 1];

        var starts = new int[buckets + 1];
        foreach (var key in keys)
        {
            starts[key + 1]++;
        }

        for (var key = 0; key < buckets; key++)
        {
            starts[key + 1] += starts[key];
        }

        Starts = new BucketStarts(starts);
        var cursor = starts.AsSpan(0, buckets);
        for (var entry = 0; entry < count; entry++)
        {
            var key = keys[entry];
            var at = cursor[key]++;
            var lowBit = (long)at * bits;
            ref var low = ref _low[lowBit >> 3];
            Unsafe.WriteUnaligned(ref low, Unsafe.ReadUnaligned<uint>(ref low) | (((uint)entry & _mask) << (int)(lowBit & 7)));
            var highBit = at + ((long)key * _blocks) + (entry >> bits);
            _high[highBit >> 6] |= 1UL << (int)(highBit & 63);
        }
    }

    /// <summary>Bucket bits: the top bits of the slot's 16-bit word that pick the bucket.</summary>
    public int Bits { get; }

    /// <summary>Where each bucket's entries start in the slot's bucket order.</summary>
    public BucketStarts Starts { get; }

    /// <summary>Bytes held by the lists and their bucket starts.</summary>
    public long Bytes => _low.LongLength + _high.LongLength * sizeof(ulong) + Starts.Bytes;

    /// <summary>Bits an entry that <see cref="PdqPostings"/> of <paramref name="bits"/> bucket bits take for <paramref name="count"/> evenly spread entries, bucket starts included.</summary>
    public static double BitsPerEntry(int count, int bits)
    {
        long blocks = Math.Max(1, (count + (1 << bits) - 1) >> bits);
        return bits + 1 + ((double)(blocks << bits) / count) + (8 * BucketStarts.EstimateBytes(1 << bits, count) / count);
    }

    /// <summary>Asks for the cache lines where the entries from bucket position <paramref name="at"/> of bucket <paramref name="key"/> are.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(int key, int at)
    {
        Matching.Prefetch.Line(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_low), (nint)(((long)at * Bits) >> 3)));
        Matching.Prefetch.Line(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_high), (nint)((at + (long)key * _blocks) >> 6)));
    }

    /// <summary>The entries of bucket <paramref name="key"/>, ascending.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Cursor Open(int key) => new(this, key);

    /// <summary>Reads one bucket's entries: the low bits in order, the high part from the unary bits.</summary>
    public ref struct Cursor
    {
        private readonly ref byte _lowData;
        private readonly ref ulong _highData;
        private readonly int _bits;
        private readonly uint _mask;
        private readonly long _zerosBefore;
        private readonly int _end;
        private int _at;
        private nint _word;
        private ulong _pending;

        public Cursor(PdqPostings postings, int key)
        {
            _lowData = ref MemoryMarshal.GetArrayDataReference(postings._low);
            _highData = ref MemoryMarshal.GetArrayDataReference(postings._high);
            _bits = postings.Bits;
            _mask = postings._mask;
            _at = postings.Starts[key];
            _end = postings.Starts[key + 1];
            _zerosBefore = (long)key * postings._blocks;
            var position = _at + _zerosBefore;
            _word = (nint)(position >> 6);
            _pending = _at == _end ? 0 : Unsafe.Add(ref _highData, _word) & (ulong.MaxValue << (int)(position & 63));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Next(out int entry)
        {
            if (_at == _end)
            {
                entry = 0;
                return false;
            }

            while (_pending == 0)
            {
                _pending = Unsafe.Add(ref _highData, ++_word);
            }

            var block = (int)(((long)_word << 6) + BitOperations.TrailingZeroCount(_pending) - _at - _zerosBefore);
            var lowBit = (long)_at * _bits;
            var low = (Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref _lowData, (nint)(lowBit >> 3))) >> (int)(lowBit & 7)) & _mask;
            entry = (block << _bits) | (int)low;
            _pending &= _pending - 1;
            _at++;
            return true;
        }
    }
}

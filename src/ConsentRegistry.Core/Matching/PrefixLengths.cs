using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// The lengths of the URL prefixes registered under each authority (<c>scheme://host[:port]</c>),
/// by the authority's fingerprint: what a URL's lookup reads to know which of its own prefixes to
/// look up. Every lookup of a URL reads it, and most find their authority absent, so it is one
/// array of slots (the key beside its lengths) in open addressing: an absent authority costs one
/// cache line, which a run of lookups asks for ahead (<see cref="Prefetch"/>). A
/// <see cref="Dictionary{TKey, TValue}"/> read a bucket array and then an entry array: with
/// 500,000 authorities (100 million subjects, docs/benchmarks.md) two cache misses a URL.
/// Not thread-safe: one writer, or many readers, at a time.
/// </summary>
internal sealed class PrefixLengths
{
    private Slot[] _slots = new Slot[16];
    private long _lengthCount;

    public int Count { get; private set; }

    /// <summary>Bytes held: the slots and the lengths' arrays (counted as they are added, not walked).</summary>
    public long Bytes => (_slots.LongLength * Unsafe.SizeOf<Slot>()) + (Count * (long)MatchingIndex.ArrayOverhead) + (_lengthCount * sizeof(int));

    /// <summary>The authorities and their lengths (ascending), in no particular order.</summary>
    public IEnumerable<(UInt128 Authority, int[] Lengths)> Entries
    {
        get
        {
            for (var i = 0; i < _slots.Length; i++)
            {
                if (_slots[i].Lengths is { } lengths)
                {
                    yield return (_slots[i].Key, lengths);
                }
            }
        }
    }

    public bool TryGet(in UInt128 authority, out int[] lengths)
    {
        var mask = _slots.Length - 1;
        for (var at = Home(authority, mask); _slots[at].Lengths is { } held; at = (at + 1) & mask)
        {
            if (_slots[at].Key == authority)
            {
                lengths = held;
                return true;
            }
        }

        lengths = [];
        return false;
    }

    /// <summary>Adds <paramref name="length"/> to <paramref name="authority"/>'s lengths (kept ascending, each once).</summary>
    public void Add(in UInt128 authority, int length)
    {
        ref var slot = ref Find(authority);
        var lengths = slot.Lengths ?? [];
        var at = Array.BinarySearch(lengths, length);
        if (at >= 0)
        {
            return;
        }

        at = ~at;
        var grown = new int[lengths.Length + 1];
        lengths.AsSpan(0, at).CopyTo(grown);
        grown[at] = length;
        lengths.AsSpan(at).CopyTo(grown.AsSpan(at + 1));
        slot.Lengths = grown;
        _lengthCount++;
    }

    /// <summary>Adds an authority with its lengths as read from a snapshot; false when it is there already.</summary>
    public bool TryAdd(in UInt128 authority, int[] lengths)
    {
        ref var slot = ref Find(authority);
        if (slot.Lengths is not null)
        {
            return false;
        }

        slot.Lengths = lengths;
        _lengthCount += lengths.Length;
        return true;
    }

    /// <summary>Room for <paramref name="count"/> authorities without growing.</summary>
    public void EnsureCapacity(int count)
    {
        var wanted = _slots.Length;
        while (wanted / 4 * 3 < count)
        {
            wanted *= 2;
        }

        if (wanted != _slots.Length)
        {
            Resize(wanted);
        }
    }

    /// <summary>Asks for the cache line of <paramref name="authority"/>'s home slot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(in UInt128 authority) =>
        Matching.Prefetch.Line(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_slots), Home(authority, _slots.Length - 1)));

    /// <summary>Reads the home slot (best asked for beforehand) and, when it holds <paramref name="authority"/>, asks for its lengths.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchLengths(in UInt128 authority)
    {
        ref readonly var slot = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_slots), Home(authority, _slots.Length - 1));
        if (slot.Lengths is { Length: > 0 } lengths && slot.Key == authority)
        {
            Matching.Prefetch.Line(ref MemoryMarshal.GetArrayDataReference(lengths));
        }
    }

    /// <summary>The slot holding <paramref name="authority"/>, or the empty one it takes (counted; the table grows first when three quarters full).</summary>
    private ref Slot Find(in UInt128 authority)
    {
        if (Count + 1 > _slots.Length / 4 * 3)
        {
            Resize(_slots.Length * 2);
        }

        var mask = _slots.Length - 1;
        var at = Home(authority, mask);
        while (_slots[at].Lengths is not null && _slots[at].Key != authority)
        {
            at = (at + 1) & mask;
        }

        if (_slots[at].Lengths is null)
        {
            _slots[at].Key = authority;
            Count++;
        }

        return ref _slots[at];
    }

    private void Resize(int length)
    {
        var old = _slots;
        _slots = new Slot[length];
        var mask = length - 1;
        foreach (ref readonly var slot in old.AsSpan())
        {
            if (slot.Lengths is null)
            {
                continue;
            }

            var at = Home(slot.Key, mask);
            while (_slots[at].Lengths is not null)
            {
                at = (at + 1) & mask;
            }

            _slots[at] = slot;
        }
    }

    /// <summary>Fingerprints are uniform: their low bits place a key.</summary>
    private static int Home(in UInt128 authority, int mask) => (int)(ulong)authority & mask;

    /// <summary>24 bytes: the key as two words (a <see cref="UInt128"/> field would align the slot to 32).</summary>
    private struct Slot
    {
        private ulong _high;
        private ulong _low;
        public int[]? Lengths;

        public UInt128 Key
        {
            readonly get => new(_high, _low);
            set => (_high, _low) = ((ulong)(value >> 64), (ulong)value);
        }
    }
}

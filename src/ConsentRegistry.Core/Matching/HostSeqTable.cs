using System.Numerics;
using System.Runtime.CompilerServices;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// Per host key, the last seq that touched it: an open-addressing table (linear probing, power-of-two
/// size, at most three quarters full) of 9 bytes a slot (the key and a <see cref="Seq40"/>), where
/// a <c>Dictionary</c> entry plus a separate seq array took about 32. Key 0 marks an empty slot, so
/// callers never use it.
/// </summary>
internal sealed class HostSeqTable
{
    private uint[] _keys = new uint[64];
    private Seq40[] _seqs = new Seq40[64];

    public int Count { get; private set; }

    /// <summary>Bytes held by the table's two arrays.</summary>
    public long Bytes => (2 * MatchingIndex.ArrayOverhead) + (_keys.LongLength * (sizeof(uint) + Unsafe.SizeOf<Seq40>()));

    public bool TryGet(uint key, out long seq)
    {
        var mask = _keys.Length - 1;
        for (var at = Home(key, mask); _keys[at] != 0; at = (at + 1) & mask)
        {
            if (_keys[at] == key)
            {
                seq = _seqs[at].Value;
                return true;
            }
        }

        seq = 0;
        return false;
    }

    /// <summary>Adds <paramref name="key"/> if it is new, and raises its seq to <paramref name="seq"/> (at most <see cref="Seq40.Max"/>).</summary>
    public void Raise(uint key, long seq)
    {
        var kept = new Seq40(seq);
        if ((Count + 1) * 4 > _keys.Length * 3)
        {
            Grow();
        }

        var mask = _keys.Length - 1;
        var at = Home(key, mask);
        while (_keys[at] != 0 && _keys[at] != key)
        {
            at = (at + 1) & mask;
        }

        if (_keys[at] == 0)
        {
            _keys[at] = key;
            Count++;
        }

        if (seq > _seqs[at].Value)
        {
            _seqs[at] = kept;
        }
    }

    /// <summary>Writes the table's slots as they are (keys, then seqs), for a snapshot.</summary>
    public void WriteTo(SnapshotWriter writer)
    {
        writer.WriteArray<uint>(_keys);
        var seqs = GC.AllocateUninitializedArray<long>(_keys.Length);
        for (var at = 0; at < seqs.Length; at++)
        {
            seqs[at] = _seqs[at].Value;
        }

        writer.WriteArray<long>(seqs);
    }

    /// <summary>Reads what <see cref="WriteTo"/> wrote into this table.</summary>
    public void ReadFrom(SnapshotReader reader)
    {
        var keys = reader.ReadArray<uint>();
        var seqs = reader.ReadArray<long>(keys.Length);
        if (keys.Length < 64 || !BitOperations.IsPow2(keys.Length) || seqs.Length != keys.Length)
        {
            throw new SnapshotFormatException("The host seq table is not a power of two of slots, or its columns differ.");
        }

        if (seqs.AsSpan().IndexOfAnyExceptInRange(0, Seq40.Max) >= 0)
        {
            throw new SnapshotFormatException($"A host's seq is negative or above {Seq40.Max}.");
        }

        var count = keys.Count(key => key != 0);
        if ((long)count * 4 > (long)keys.Length * 3) // Raise grows the table before it passes three quarters
        {
            throw new SnapshotFormatException("The host seq table is fuller than it may be.");
        }

        _keys = keys;
        _seqs = Array.ConvertAll(seqs, seq => new Seq40(seq));

        Count = count;
    }

    // Keys are fingerprint bits already; the multiply spreads any that cluster in the low bits.
    private static int Home(uint key, int mask) => (int)BitOperations.RotateLeft(key * 0x9E3779B9u, 16) & mask;

    private void Grow()
    {
        var (keys, seqs) = (_keys, _seqs);
        _keys = new uint[keys.Length * 2];
        _seqs = new Seq40[keys.Length * 2];
        Count = 0;
        for (var i = 0; i < keys.Length; i++)
        {
            if (keys[i] != 0)
            {
                Raise(keys[i], seqs[i].Value);
            }
        }
    }
}

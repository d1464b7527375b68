using System.Numerics;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// Per host key, the last seq that touched it: an open-addressing table (linear probing, power-of-two
/// size, at most three quarters full) of 12 bytes a slot, where a <c>Dictionary</c> entry plus a
/// separate seq array took about 32. Key 0 marks an empty slot, so callers never use it.
/// </summary>
internal sealed class HostSeqTable
{
    private uint[] _keys = new uint[64];
    private long[] _seqs = new long[64];

    public int Count { get; private set; }

    /// <summary>Bytes held by the table's two arrays.</summary>
    public long Bytes => 48 + (_keys.LongLength * (sizeof(uint) + sizeof(long)));

    public bool TryGet(uint key, out long seq)
    {
        var mask = _keys.Length - 1;
        for (var at = Home(key, mask); _keys[at] != 0; at = (at + 1) & mask)
        {
            if (_keys[at] == key)
            {
                seq = _seqs[at];
                return true;
            }
        }

        seq = 0;
        return false;
    }

    /// <summary>Adds <paramref name="key"/> if it is new, and raises its seq to <paramref name="seq"/>.</summary>
    public void Raise(uint key, long seq)
    {
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

        _seqs[at] = Math.Max(_seqs[at], seq);
    }

    /// <summary>Writes the table's slots as they are (keys, then seqs), for a snapshot.</summary>
    public void WriteTo(SnapshotWriter writer)
    {
        writer.WriteArray<uint>(_keys);
        writer.WriteArray<long>(_seqs);
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

        var count = keys.Count(key => key != 0);
        if ((long)count * 4 > (long)keys.Length * 3) // Raise grows the table before it passes three quarters
        {
            throw new SnapshotFormatException("The host seq table is fuller than it may be.");
        }

        (_keys, _seqs, Count) = (keys, seqs, count);
    }

    // Keys are fingerprint bits already; the multiply spreads any that cluster in the low bits.
    private static int Home(uint key, int mask) => (int)BitOperations.RotateLeft(key * 0x9E3779B9u, 16) & mask;

    private void Grow()
    {
        var keys = _keys;
        var seqs = _seqs;
        _keys = new uint[keys.Length * 2];
        _seqs = new long[keys.Length * 2];
        Count = 0;
        for (var i = 0; i < keys.Length; i++)
        {
            if (keys[i] != 0)
            {
                Raise(keys[i], seqs[i]);
            }
        }
    }
}

using System.Numerics;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// Per host key, the last seq that touched it: an open-addressing table (linear probing, power-of-two
/// size, at most three quarters full) of 9 bytes a slot (the key, the seq in 40 bits as the claim
/// table keeps it), where a <c>Dictionary</c> entry plus a separate seq array took about 32. Key 0
/// marks an empty slot, so callers never use it.
/// </summary>
internal sealed class HostSeqTable
{
    private uint[] _keys = new uint[64];
    private uint[] _seqLow = new uint[64];
    private byte[] _seqHigh = new byte[64];

    public int Count { get; private set; }

    /// <summary>Bytes held by the table's three arrays.</summary>
    public long Bytes => (3 * MatchingIndex.ArrayOverhead) + (_keys.LongLength * (sizeof(uint) + sizeof(uint) + sizeof(byte)));

    public bool TryGet(uint key, out long seq)
    {
        var mask = _keys.Length - 1;
        for (var at = Home(key, mask); _keys[at] != 0; at = (at + 1) & mask)
        {
            if (_keys[at] == key)
            {
                seq = SeqAt(at);
                return true;
            }
        }

        seq = 0;
        return false;
    }

    /// <summary>Adds <paramref name="key"/> if it is new, and raises its seq to <paramref name="seq"/> (at most <see cref="ClaimTable.MaxSeq"/>).</summary>
    public void Raise(uint key, long seq)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((ulong)seq, (ulong)ClaimTable.MaxSeq, nameof(seq));
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

        if (seq > SeqAt(at))
        {
            _seqLow[at] = (uint)seq;
            _seqHigh[at] = (byte)(seq >> 32);
        }
    }

    /// <summary>Writes the table's slots as they are (keys, then seqs), for a snapshot.</summary>
    public void WriteTo(SnapshotWriter writer)
    {
        writer.WriteArray<uint>(_keys);
        var seqs = GC.AllocateUninitializedArray<long>(_keys.Length);
        for (var at = 0; at < seqs.Length; at++)
        {
            seqs[at] = SeqAt(at);
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

        if (seqs.AsSpan().IndexOfAnyExceptInRange(0, ClaimTable.MaxSeq) >= 0)
        {
            throw new SnapshotFormatException($"A host's seq is negative or above {ClaimTable.MaxSeq}.");
        }

        var count = keys.Count(key => key != 0);
        if ((long)count * 4 > (long)keys.Length * 3) // Raise grows the table before it passes three quarters
        {
            throw new SnapshotFormatException("The host seq table is fuller than it may be.");
        }

        _keys = keys;
        _seqLow = GC.AllocateUninitializedArray<uint>(keys.Length);
        _seqHigh = GC.AllocateUninitializedArray<byte>(keys.Length);
        for (var at = 0; at < keys.Length; at++)
        {
            _seqLow[at] = (uint)seqs[at];
            _seqHigh[at] = (byte)(seqs[at] >> 32);
        }

        Count = count;
    }

    // Keys are fingerprint bits already; the multiply spreads any that cluster in the low bits.
    private static int Home(uint key, int mask) => (int)BitOperations.RotateLeft(key * 0x9E3779B9u, 16) & mask;

    private long SeqAt(int at) => ((long)_seqHigh[at] << 32) | _seqLow[at];

    private void Grow()
    {
        var (keys, seqLow, seqHigh) = (_keys, _seqLow, _seqHigh);
        _keys = new uint[keys.Length * 2];
        _seqLow = new uint[keys.Length * 2];
        _seqHigh = new byte[keys.Length * 2];
        Count = 0;
        for (var i = 0; i < keys.Length; i++)
        {
            if (keys[i] != 0)
            {
                Raise(keys[i], ((long)seqHigh[i] << 32) | seqLow[i]);
            }
        }
    }
}

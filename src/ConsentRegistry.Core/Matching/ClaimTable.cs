using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// The index's claims by number (decision record 0019): a column of ids (32 bytes each) and one of
/// 15-byte rows holding what deciding reads, so a match costs one row: the seq in 40 bits, the
/// party's number, the iat as seconds from 2020 in 32 bits (any other value kept aside, exactly),
/// the usage as one base-3 byte, trust and revoked in one byte. 47 bytes a claim, where a
/// <see cref="ClaimEntry"/> struct takes 64. Claims are found by id through an
/// open-addressing table of 4-byte claim numbers (linear probing, at most three quarters full),
/// each hit confirmed on all 256 bits against the id column. Its hash is seeded per instance
/// and the table is never saved, so ids chosen to share a home (a claim id is a hash its signer can
/// grind) cannot aim at one. Not thread-safe: the index's lock covers it.
/// </summary>
internal sealed class ClaimTable
{
    /// <summary>2020-01-01T00:00:00Z, the earliest iat the registry takes: iats are kept as seconds from here.</summary>
    private const long IatBase = 1_577_836_800;

    private const byte RevokedBit = 1 << 2;
    private const byte TrustMask = 0b11;

    /// <summary>Every usage by its code (<see cref="EncodeUsage"/>): 3⁵ = 243 of them.</summary>
    private static readonly Usage[] Usages = [.. Enumerable.Range(0, 243).Select(DecodeUsage)];

    /// <summary>
    /// The most entries the table holds: its columns are arrays, and its id table, of at most
    /// <see cref="Array.MaxLength"/> slots, must keep a slot empty so that a probe for an absent id ends.
    /// </summary>
    internal static readonly int MaxCount = Array.MaxLength - 1;

    private readonly ulong _seed = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong)));
    private readonly Dictionary<int, long> _iatsAside = [];
    private ClaimKey[] _keys;
    private ClaimRow[] _rows;
    private uint[] _slots; // claim number + 1; 0 is empty

    public ClaimTable(int capacity = 256)
    {
        capacity = Math.Max(capacity, 1);
        _keys = new ClaimKey[capacity];
        _rows = new ClaimRow[capacity];
        _slots = new uint[SlotsFor(capacity)];
    }

    public int Count { get; private set; }

    /// <summary>Bytes held by the columns and the id table, growth slack included.</summary>
    public long Bytes =>
        (3 * MatchingIndex.ArrayOverhead)
        + ((long)_keys.Length * (Unsafe.SizeOf<ClaimKey>() + Unsafe.SizeOf<ClaimRow>()))
        + ((long)_slots.Length * sizeof(uint))
        + (_iatsAside.Count * 24L);

    public ClaimEntry this[int claim] => new(
        _keys[claim], Seq(claim), Party(claim), Iat(claim), Usage(claim), Trust(claim), IsRevoked(claim));

    public ClaimKey Key(int claim) => _keys[claim];

    public int Party(int claim) => _rows[claim].Party;

    /// <summary>The claim's usage, without reading its id (deciding a match needs only this row).</summary>
    public Usage Usage(int claim) => Usages[_rows[claim].Usage];

    public TrustLevel Trust(int claim) => TrustLevel.FromRank((byte)(_rows[claim].State & TrustMask));

    public bool IsRevoked(int claim) => (_rows[claim].State & RevokedBit) != 0;

    public long Seq(int claim) => _rows[claim].Seq.Value;

    public long Iat(int claim) => _rows[claim].Iat != int.MinValue ? IatBase + _rows[claim].Iat : _iatsAside[claim];

    /// <summary>
    /// True when entry <paramref name="claim"/> takes precedence over <paramref name="than"/>: the later iat, then
    /// the later seq. A derived set carries its claim's iat and seq, so between a claim and its own derived
    /// sets the higher trust goes first, then the earlier entry (the claim's own subjects): a strict order,
    /// so which answers does not depend on the order a key table or a hot key met them in.
    /// </summary>
    public bool IsNewer(int claim, int than)
    {
        var (x, y) = (Iat(claim), Iat(than));
        if (x != y)
        {
            return x > y;
        }

        var (a, b) = (Seq(claim), Seq(than));
        if (a != b)
        {
            return a > b;
        }

        var (ta, tb) = (_rows[claim].State & TrustMask, _rows[than].State & TrustMask);
        return ta != tb ? ta > tb : claim < than;
    }

    /// <summary>Appends a claim and returns its number. Ids are not checked for uniqueness here (see <see cref="AddWithId"/>).</summary>
    public int Add(in ClaimEntry entry)
    {
        var seq = new Seq40(entry.Seq); // before anything changes: a refused seq leaves no half-added row
        if (Count == _keys.Length)
        {
            Resize(GrownCapacity(Count));
        }

        var claim = Count++;
        _keys[claim] = entry.Key;
        SetRow(claim, seq, entry);
        return claim;
    }

    /// <summary>Appends a claim and makes it findable by its id, which must be new (<see cref="TryFind"/>).</summary>
    public int AddWithId(in ClaimEntry entry)
    {
        var claim = Add(entry);
        if (IdSlotsAfterAdd(Count, _slots.Length) is { } slots)
        {
            Rehash(slots);
        }

        Insert(claim);
        return claim;
    }

    /// <summary>Replaces claim <paramref name="claim"/>'s state; its id stays (the id table is keyed by it).</summary>
    public void Set(int claim, in ClaimEntry entry)
    {
        if (entry.Key != _keys[claim])
        {
            throw new ArgumentException("A claim's id does not change.", nameof(entry));
        }

        SetRow(claim, new Seq40(entry.Seq), entry);
    }

    /// <summary>The number of the claim whose id is <paramref name="key"/>: found by its hash, confirmed on all 256 bits.</summary>
    public bool TryFind(in ClaimKey key, out int claim)
    {
        var slots = _slots;
        for (var at = Home(key, slots.Length); slots[at] != 0; at = Next(at, slots.Length))
        {
            var candidate = (int)(slots[at] - 1);
            if (_keys[candidate] == key)
            {
                claim = candidate;
                return true;
            }
        }

        claim = -1;
        return false;
    }

    /// <summary>Gives growth slack back once the build from the store is done: the id table about 70 % full.</summary>
    public void TrimExcess()
    {
        Resize(Count);
        var slots = SlotsFor(Count, load: 0.7);
        if (slots < _slots.Length)
        {
            Rehash(slots);
        }
    }

    /// <summary>The id column, for a snapshot.</summary>
    public ReadOnlySpan<ClaimKey> Keys => _keys.AsSpan(0, Count);

    /// <summary>
    /// A table of the claims a snapshot holds (its columns as <see cref="MatchingIndex"/> writes
    /// them, checked by the caller), with an id table built afresh under this instance's seed.
    /// Ids are taken as unique: a snapshot is checksummed, and a repeated id would only leave a
    /// claim that is never found by id.
    /// </summary>
    /// <param name="usage">A claim's five preferences as one code (<see cref="UsageCode"/>), each preference 0, 1 or 2.</param>
    /// <param name="trust">Trust ranks, each 0, 1 or 2.</param>
    /// <param name="revoked">0 or 1 a claim.</param>
    public static ClaimTable FromColumns(ClaimKey[] keys, long[] seqs, int[] parties, long[] iats, byte[] usage, byte[] trust, byte[] revoked)
    {
        var table = new ClaimTable(0) { _keys = keys, _rows = GC.AllocateUninitializedArray<ClaimRow>(Math.Max(keys.Length, 1)), Count = keys.Length };
        for (var claim = 0; claim < keys.Length; claim++)
        {
            table.SetRow(claim, new Seq40(seqs[claim]), parties[claim], iats[claim], usage[claim], (byte)(trust[claim] | (revoked[claim] != 0 ? RevokedBit : 0)));
        }

        table._slots = new uint[SlotsFor(keys.Length, load: 0.7)];
        for (var claim = 0; claim < keys.Length; claim++)
        {
            table.Insert(claim);
        }

        return table;
    }

    /// <summary>The usage as one byte: each category's preference (0 unset, 1 yes, 2 no) a base-3 digit.</summary>
    public static byte EncodeUsage(in Usage usage)
    {
        var code = 0;
        for (var category = UseCategories.All.Count - 1; category >= 0; category--)
        {
            code = (code * 3) + (byte)usage[category];
        }

        return (byte)code;
    }

    /// <summary>Five preferences (<see cref="UseCategories.All"/> order, each 0, 1 or 2) as one code, as <see cref="EncodeUsage"/> makes it.</summary>
    public static byte UsageCode(ReadOnlySpan<byte> preferences) =>
        (byte)(preferences[0] + (3 * preferences[1]) + (9 * preferences[2]) + (27 * preferences[3]) + (81 * preferences[4]));

    private static Usage DecodeUsage(int code)
    {
        Span<Preference> values = stackalloc Preference[UseCategories.All.Count];
        for (var category = 0; category < values.Length; category++)
        {
            values[category] = (Preference)(code % 3);
            code /= 3;
        }

        return Claims.Usage.FromValues(values);
    }

    private void SetRow(int claim, Seq40 seq, in ClaimEntry entry) =>
        SetRow(claim, seq, entry.Party, entry.Iat, EncodeUsage(entry.Usage), (byte)(entry.Trust.Rank | (entry.Revoked ? RevokedBit : 0)));

    private void SetRow(int claim, Seq40 seq, int party, long iat, byte usage, byte state)
    {
        ref var row = ref _rows[claim];
        row.Seq = seq;
        row.Party = party;
        if (iat is > IatBase + int.MinValue and <= IatBase + int.MaxValue) // int.MinValue marks a value kept aside
        {
            row.Iat = (int)(iat - IatBase);
            _iatsAside.Remove(claim);
        }
        else
        {
            row.Iat = int.MinValue;
            _iatsAside[claim] = iat;
        }

        row.Usage = usage;
        row.State = state;
    }

    /// <summary>
    /// The capacity the columns grow to when <paramref name="count"/> claims fill them: 1.5×, less
    /// slack than doubling, up to <see cref="MaxCount"/>; a table that holds that many is full.
    /// </summary>
    internal static int GrownCapacity(int count) => count < MaxCount
        ? (int)Math.Min(Math.Max(count + 1L, count + (count / 2L)), MaxCount)
        : throw new InvalidOperationException($"The claim table is full: it holds {MaxCount:N0} entries, as many as its arrays can.");

    /// <summary>
    /// The slots the id table is rebuilt with once it holds <paramref name="count"/> claims in
    /// <paramref name="slots"/> slots, or null while it is at most three quarters full: half full
    /// again, 5.3 to 8 bytes a claim as it grows. Null too once it cannot grow (it has
    /// <see cref="Array.MaxLength"/> slots): rebuilding it the same size on every add would only cost.
    /// </summary>
    internal static int? IdSlotsAfterAdd(int count, int slots) =>
        (long)count * 4 > (long)slots * 3 && SlotsFor(count, load: 0.5) is var grown && grown > slots ? grown : null;

    /// <summary>Slots for <paramref name="claims"/> at <paramref name="load"/>; one more, so that a probe always meets an empty slot.</summary>
    private static int SlotsFor(long claims, double load = 0.75) => (int)Math.Min(Math.Max((long)Math.Ceiling(claims / load) + 1, 16), Array.MaxLength);

    private void Insert(int claim)
    {
        var at = Home(_keys[claim], _slots.Length);
        while (_slots[at] != 0)
        {
            at = Next(at, _slots.Length);
        }

        _slots[at] = (uint)claim + 1;
    }

    private void Rehash(int slots)
    {
        _slots = new uint[slots];
        for (var claim = 0; claim < Count; claim++)
        {
            Insert(claim);
        }
    }

    private void Resize(int capacity)
    {
        capacity = Math.Max(capacity, 1);
        Array.Resize(ref _keys, capacity);
        Array.Resize(ref _rows, capacity);
    }

    /// <summary>A seeded mix of all four words, reduced to the table's length by a multiply (the table need not be a power of two).</summary>
    private int Home(in ClaimKey key, int length)
    {
        var hash = (key.A ^ _seed) * 0x9E3779B97F4A7C15UL;
        hash = (hash ^ key.B ^ (hash >> 29)) * 0xBF58476D1CE4E5B9UL;
        hash = (hash ^ key.C ^ (hash >> 31)) * 0x94D049BB133111EBUL;
        hash = (hash ^ key.D ^ (hash >> 30)) * 0x9E3779B97F4A7C15UL;
        return (int)Math.BigMul(hash ^ (hash >> 32), (ulong)length, out _);
    }

    private static int Next(int at, int length) => at + 1 == length ? 0 : at + 1;

    /// <summary>What deciding reads of a claim, packed: 15 bytes.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private struct ClaimRow
    {
        public Seq40 Seq;
        public int Party;
        public int Iat; // seconds from IatBase; int.MinValue: kept aside
        public byte Usage;
        public byte State; // trust rank in bits 0-1, revoked in bit 2
    }
}

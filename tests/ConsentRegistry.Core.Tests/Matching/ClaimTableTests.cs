using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Core.Tests.Matching;

public sealed class ClaimTableTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_claim_is_found_by_its_id_and_no_other_id_finds_one(bool sequentialIds)
    {
        var random = new Random(5);
        var table = new ClaimTable(capacity: 1);
        var keys = new List<ClaimKey>();
        for (var i = 0; i < 50_000; i++)
        {
            // Sequential ids (as tools and tests make them) differ in their last word only.
            var key = sequentialIds ? new ClaimKey(0, 0, 0, (ulong)i) : RandomKey(random);
            Assert.False(table.TryFind(key, out _));
            Assert.Equal(i, table.AddWithId(Entry(key, seq: i + 1)));
            keys.Add(key);
        }

        table.TrimExcess();
        for (var i = 0; i < keys.Count; i++)
        {
            Assert.True(table.TryFind(keys[i], out var found));
            Assert.Equal(i, found);
        }

        for (var i = 0; i < 10_000; i++)
        {
            Assert.False(table.TryFind(sequentialIds ? new ClaimKey(0, 0, 1, (ulong)i) : RandomKey(random), out var none));
            Assert.Equal(-1, none);
        }
    }

    [Fact]
    public void Trimmed_while_empty_the_table_still_grows_and_finds()
    {
        var table = new ClaimTable();
        table.TrimExcess(); // as the serving index compacts its empty index at start
        var keys = Enumerable.Range(0, 1_000).Select(i => new ClaimKey((ulong)i, 1, 2, 3)).ToList();
        foreach (var key in keys)
        {
            table.AddWithId(Entry(key, seq: 1));
        }

        Assert.All(keys, (key, i) => Assert.True(table.TryFind(key, out var found) && found == i));
    }

    [Fact]
    public void An_entry_added_without_its_id_is_kept_but_not_found_by_id()
    {
        var table = new ClaimTable();
        var key = new ClaimKey(1, 2, 3, 4);
        var claim = table.AddWithId(Entry(key, seq: 7));
        var derived = table.Add(Entry(key, seq: 7) with { Party = 3 }); // a derived set shares its claim's id

        Assert.True(table.TryFind(key, out var found));
        Assert.Equal(claim, found);
        Assert.Equal(3, table[derived].Party);
        Assert.Equal(2, table.Count);
    }

    [Theory]
    [InlineData(0L, 1_577_836_800L)]
    [InlineData(1L, 1L)] // an iat of 1970: before the floor, kept aside
    [InlineData(Seq40.Max, long.MaxValue)]
    [InlineData(4_294_967_296L, 1_577_836_800L + int.MaxValue)]
    [InlineData(123L, 1_577_836_800L + int.MaxValue + 1)] // past 2088: kept aside
    [InlineData(123L, 1_577_836_800L + int.MinValue)] // the marker value itself: kept aside
    [InlineData(123L, long.MinValue)]
    public void Seq_and_iat_read_back_exactly(long seq, long iat)
    {
        var table = new ClaimTable();
        var claim = table.AddWithId(Entry(new ClaimKey(9, 9, 9, 9), seq) with { Iat = iat });

        Assert.Equal(seq, table.Seq(claim));
        Assert.Equal(iat, table.Iat(claim));
        Assert.Equal(iat, table[claim].Iat);

        table.Set(claim, table[claim] with { Iat = 1_700_000_000 }); // back in range: the value aside goes
        Assert.Equal(1_700_000_000, table.Iat(claim));
    }

    [Fact]
    public void A_seq_beyond_40_bits_or_a_new_id_is_refused()
    {
        var table = new ClaimTable();
        var key = new ClaimKey(1, 1, 1, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Add(Entry(key, Seq40.Max + 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Add(Entry(key, -1)));
        Assert.Equal(0, table.Count); // nothing half added

        var claim = table.AddWithId(Entry(key, 1));
        Assert.Throws<ArgumentException>(() => table.Set(claim, Entry(new ClaimKey(2, 2, 2, 2), 1)));
    }

    [Fact]
    public void Every_usage_trust_and_revoked_state_reads_back()
    {
        var table = new ClaimTable();
        var preferences = new[] { Preference.Unset, Preference.Yes, Preference.No };
        var trusts = new[] { TrustLevel.Signed, TrustLevel.Domain, TrustLevel.Reviewed };
        var expected = new List<ClaimEntry>();
        for (var code = 0; code < 243; code++)
        {
            var digits = new Preference[5];
            for (int category = 0, rest = code; category < 5; category++, rest /= 3)
            {
                digits[category] = preferences[rest % 3];
            }

            var entry = new ClaimEntry(new ClaimKey(0, 0, 0, (ulong)code), code, code % 7, 1_700_000_000 + code, Usage.FromValues(digits), trusts[code % 3], code % 2 == 0);
            table.AddWithId(entry);
            expected.Add(entry);
        }

        Assert.Equal(expected, Enumerable.Range(0, table.Count).Select(claim => table[claim]));
        Assert.Equal(243, expected.Select(entry => ClaimTable.EncodeUsage(entry.Usage)).Distinct().Count());
    }

    [Fact]
    public void Newer_is_the_later_iat_then_the_later_seq()
    {
        var table = new ClaimTable();
        var older = table.AddWithId(Entry(new ClaimKey(1, 0, 0, 0), seq: 10) with { Iat = 1_700_000_100 });
        var laterSeq = table.AddWithId(Entry(new ClaimKey(2, 0, 0, 0), seq: 11) with { Iat = 1_700_000_100 });
        var laterIat = table.AddWithId(Entry(new ClaimKey(3, 0, 0, 0), seq: 5) with { Iat = 1_700_000_200 });

        Assert.True(table.IsNewer(laterSeq, older));
        Assert.False(table.IsNewer(older, laterSeq));
        Assert.True(table.IsNewer(laterIat, laterSeq));
        Assert.False(table.IsNewer(older, older));
    }

    [Fact]
    public void A_table_rebuilt_from_its_columns_finds_every_id()
    {
        var random = new Random(11);
        var keys = Enumerable.Range(0, 5_000).Select(_ => RandomKey(random)).ToArray();
        var n = keys.Length;
        var usage = new byte[n * 5];
        for (var i = 0; i < usage.Length; i++)
        {
            usage[i] = (byte)random.Next(3);
        }

        var trust = Enumerable.Range(0, n).Select(i => (byte)(i % 3)).ToArray();
        var revoked = Enumerable.Range(0, n).Select(i => (byte)(i % 2)).ToArray();
        var iats = Enumerable.Range(0, n).Select(i => i == 7 ? 1L : i == 8 ? long.MaxValue : 1_700_000_000L + i).ToArray();
        var codes = Enumerable.Range(0, n).Select(i => ClaimTable.UsageCode(usage.AsSpan(i * 5, 5))).ToArray();
        var table = ClaimTable.FromColumns(keys, [.. Enumerable.Range(0, n).Select(i => (long)i)], [.. Enumerable.Range(0, n).Select(i => i % 13)], iats, codes, trust, revoked);

        Assert.Equal(n, table.Count);
        for (var i = 0; i < n; i++)
        {
            Assert.True(table.TryFind(keys[i], out var found));
            Assert.Equal(i, found);
            var preferences = usage.AsSpan(i * 5, 5).ToArray().Select(p => (Preference)p).ToArray();
            Assert.Equal(new ClaimEntry(keys[i], i, i % 13, iats[i], Usage.FromValues(preferences), TrustLevel.FromRank(trust[i]), revoked[i] == 1), table[i]);
        }
    }

    private static ClaimEntry Entry(ClaimKey key, long seq) =>
        new(key, seq, Party: 0, Iat: 1_700_000_000, new Usage(Preference.Unset, Preference.No, Preference.Unset, Preference.Unset, Preference.Unset), TrustLevel.Signed, Revoked: false);

    private static ClaimKey RandomKey(Random random) =>
        new((ulong)random.NextInt64(), (ulong)random.NextInt64(), (ulong)random.NextInt64(), (ulong)random.NextInt64());
}

using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Tests.Matching;

public sealed class KeyTableTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_key_finds_exactly_the_values_added_under_it_in_the_tail_segments_and_merges(bool deferMerges)
    {
        var random = new Random(17);
        var table = new KeyTable { DeferMerges = deferMerges };
        var model = new Dictionary<Key80, List<uint>>();
        var keys = new List<Key80>();
        for (var i = 0; i < 70_000; i++)
        {
            // A third of the adds reuse a key (many values a key); some keys share their high word,
            // some their top 40 bits (a crowded bucket, searched by halves), some sit in the first
            // or last group.
            var key = keys.Count > 0 && random.Next(3) == 0 ? keys[random.Next(keys.Count)]
                : keys.Count > 0 && random.Next(20) == 0 ? new Key80(keys[random.Next(keys.Count)].High, (ushort)random.Next())
                : random.Next(50) == 0 ? new Key80((0xABCD_EF01_23UL << 24) | (uint)random.Next(1 << 24), (ushort)random.Next())
                : random.Next(100) == 0 ? new Key80(random.Next(2) == 0 ? (ulong)random.Next() : ulong.MaxValue - (ulong)random.Next(), (ushort)random.Next())
                : RandomKey(random);
            var value = (uint)random.Next();
            table.Add(key, value);
            if (!model.TryGetValue(key, out var values))
            {
                model[key] = values = [];
                keys.Add(key);
            }

            values.Add(value);
            if (deferMerges && i % 5_000 == 0)
            {
                while (table.PrepareMerge() is { } merge)
                {
                    table.CommitMerge(merge);
                }
            }
        }

        Assert.True(table.SegmentCount > 1, "the table should hold several segments and a tail");
        AssertSameAsModel(table, model, random);
        table.Compact();
        Assert.Equal(1, table.SegmentCount);
        AssertSameAsModel(table, model, random);
        Assert.Equal(70_000, table.Count);
    }

    [Fact]
    public void Merges_keep_the_segments_few_when_each_write_adds_several_tails_at_once()
    {
        // A claim of 10,000 subjects fills two or three tails before the writer's merges run.
        var random = new Random(5);
        var table = new KeyTable { DeferMerges = true };
        var most = 0;
        for (var claim = 0; claim < 100; claim++)
        {
            for (var i = 0; i < 10_000; i++)
            {
                table.Add(RandomKey(random), (uint)((claim * 10_000) + i));
            }

            while (table.PrepareMerge() is { } merge)
            {
                table.CommitMerge(merge);
            }

            most = Math.Max(most, table.SegmentCount);
        }

        Assert.InRange(most, 1, 8); // merging only the newest four left up to 24 here
    }

    [Fact]
    public void Merges_keep_the_segments_few_and_a_compacted_table_costs_about_12_and_a_half_bytes_an_entry()
    {
        var random = new Random(3);
        var table = new KeyTable();
        for (var i = 0; i < 1_000_000; i++)
        {
            table.Add(RandomKey(random), (uint)i);
        }

        Assert.InRange(table.SegmentCount, 1, 12);
        table.Compact();
        var fixedTail = (KeyTable.TailLimit * 16) + (KeyTable.TailLimit * 2 * sizeof(int));
        Assert.InRange((table.Bytes - fixedTail) / 1_000_000.0, 12.0, 12.6);
    }

    [Fact]
    public void A_compacted_table_whose_directory_has_more_bits_than_the_group_finds_exactly_the_values_added()
    {
        // 300,000 entries: a directory of 17 bits, one below the key's 16-bit group.
        var random = new Random(29);
        var table = new KeyTable();
        var model = new Dictionary<Key80, List<uint>>();
        var keys = new List<Key80>();
        for (var i = 0; i < 300_000; i++)
        {
            var key = keys.Count > 0 && random.Next(4) == 0 ? keys[random.Next(keys.Count)]
                : random.Next(40) == 0 ? new Key80((0x1234_5678_9AUL << 24) | (uint)random.Next(1 << 24), (ushort)random.Next())
                : RandomKey(random);
            table.Add(key, (uint)i);
            if (!model.TryGetValue(key, out var values))
            {
                model[key] = values = [];
                keys.Add(key);
            }

            values.Add((uint)i);
        }

        table.Compact();
        AssertSameAsModel(table, model, random);
    }

    [Fact]
    public void A_segment_read_from_a_snapshot_with_group_starts_that_do_not_span_its_entries_or_entries_out_of_order_is_refused()
    {
        SegmentEntry[] entries = [new(5, 1), new(9, 2), new(3, 3)]; // groups 0: 5, 9; group 1: 3
        var starts = new int[KeySegment.Groups + 1];
        starts.AsSpan(1).Fill(2);
        starts.AsSpan(2).Fill(3);

        var segment = KeySegment.FromSorted(entries, starts);
        Assert.Equal((2, 3), segment.Locate(Key80.FromParts(1, 3)));
        Assert.Equal((0, 0), segment.Locate(Key80.FromParts(0, 3)));

        Assert.Throws<SnapshotFormatException>(() => KeySegment.FromSorted(entries, starts[..^1]));
        Assert.Throws<SnapshotFormatException>(() => KeySegment.FromSorted(entries, [.. starts.Select((start, group) => group == KeySegment.Groups ? 2 : start)]));
        Assert.Throws<SnapshotFormatException>(() => KeySegment.FromSorted(entries, [.. starts.Select((start, group) => group == 0 ? 1 : start)]));
        Assert.Throws<SnapshotFormatException>(() => KeySegment.FromSorted(entries, [.. starts.Select((start, group) => group == 7 ? 1 : start)]));
        Assert.Throws<SnapshotFormatException>(() => KeySegment.FromSorted([entries[1], entries[0], entries[2]], starts));
    }

    [Fact]
    public void A_merge_prepared_before_the_table_changed_is_refused()
    {
        var table = new KeyTable { DeferMerges = true };
        for (var i = 0; i < KeyTable.TailLimit * 4; i++)
        {
            table.Add(new Key80((ulong)i * 7919, 1), (uint)i);
        }

        var merge = table.PrepareMerge();
        Assert.NotNull(merge);
        table.Compact();
        Assert.Throws<InvalidOperationException>(() => table.CommitMerge(merge));
    }

    [Fact]
    public void A_key_crowded_within_a_full_tail_is_reported_when_the_tail_becomes_a_segment_and_the_tail_counts_its_own()
    {
        var table = new KeyTable { CrowdedAt = 30 };
        var shared = new Key80(42, 42);
        for (var i = 0; i < KeyTable.TailLimit + 10; i++)
        {
            table.Add(i % 100 == 0 ? shared : new Key80((ulong)i + 1000, 0), (uint)i);
        }

        Assert.Equal(42, Values(table, shared).Count); // 41 in the first segment, 1 in the tail
        Assert.Equal(1, table.TailCount(shared));
        Assert.Equal([shared], table.TakeCrowded()); // 41 of 30 or more within the segment the full tail became
        Assert.Null(table.TakeCrowded());
        Assert.Empty(Values(table, new Key80(43, 42)));
        Assert.Equal(0, table.TailCount(new Key80(43, 42)));
    }

    [Fact]
    public void A_key_with_thousands_of_entries_in_the_tail_takes_one_slot_there_and_keeps_them_all()
    {
        // 2,000 claims on one host: its key's entries are chained behind one slot, so a probe for
        // another key whose home lands near it passes one slot, not 2,000.
        var table = new KeyTable();
        var hot = new Key80(7, 7);
        for (var i = 0; i < 2_000; i++)
        {
            table.Add(hot, (uint)i);
            if (i % 200 == 0)
            {
                table.Add(new Key80(8 + (ulong)i, 7), (uint)i); // homes right after the hot key's
            }
        }

        Assert.Equal(11, table.TailSlotsInUse);
        Assert.Equal(2_000, table.TailCount(hot));
        Assert.Equal(Enumerable.Range(0, 2_000).Select(i => (uint)i).Reverse(), Values(table, hot)); // newest first
        Assert.Equal([200u], Values(table, new Key80(208, 7)));
        Assert.Empty(Values(table, new Key80(9, 7)));
    }

    /// <summary>
    /// A segment holds at most what one array can (<see cref="Array.MaxLength"/> entries): past it
    /// merges and compaction leave several segments, every key still finds its values, and the keys
    /// crowded across segments are all found. Shown with the cap lowered to a little over
    /// <see cref="SegmentMerges.Fanout"/> tails.
    /// </summary>
    [Fact]
    public void With_segments_capped_merges_and_compaction_keep_within_the_cap_and_every_key_finds_its_values()
    {
        const int Cap = (SegmentMerges.Fanout * KeyTable.TailLimit) + 100;
        const int Entries = 60_000;
        var random = new Random(29);
        var table = new KeyTable { MaxSegmentEntries = Cap };
        var model = new Dictionary<Key80, List<uint>>();
        var keys = new List<Key80>();
        for (var i = 0; i < Entries; i++)
        {
            var key = keys.Count > 0 && random.Next(3) == 0 ? keys[random.Next(keys.Count)] : RandomKey(random);
            table.Add(key, (uint)i);
            if (!model.TryGetValue(key, out var values))
            {
                model[key] = values = [];
                keys.Add(key);
            }

            values.Add((uint)i);
        }

        Assert.All(table.SegmentSizes, size => Assert.InRange(size, 1, Cap));
        Assert.Contains(SegmentMerges.Fanout * KeyTable.TailLimit, table.SegmentSizes); // tails still merge below the cap
        AssertSameAsModel(table, model, random);

        table.Compact();

        Assert.InRange(table.SegmentCount, 2, 2 * Entries / Cap);
        Assert.All(table.SegmentSizes, size => Assert.InRange(size, 1, Cap));
        Assert.Equal(Entries, table.SegmentSizes.Sum()); // the tail too
        Assert.Equal(Entries, table.Count);
        AssertSameAsModel(table, model, random);
        foreach (var least in new[] { 2, 3, 5 })
        {
            Assert.Equal(model.Where(key => key.Value.Count >= least).Select(key => key.Key).Order(), table.KeysWithAtLeast(least).Order());
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => new KeyTable { MaxSegmentEntries = KeyTable.TailLimit - 1 });
    }

    private static void AssertSameAsModel(KeyTable table, Dictionary<Key80, List<uint>> model, Random random)
    {
        foreach (var (key, expected) in model)
        {
            Assert.Equal(expected.Order(), Values(table, key).Order());
        }

        for (var i = 0; i < 10_000; i++)
        {
            var absent = RandomKey(random);
            if (!model.ContainsKey(absent))
            {
                Assert.Empty(Values(table, absent));
            }
        }
    }

    private static Key80 RandomKey(Random random) => new((ulong)random.NextInt64(long.MinValue, long.MaxValue), (ushort)random.Next());

    private static List<uint> Values(KeyTable table, Key80 key)
    {
        var found = new List<uint>();
        var values = table.Find(key);
        while (values.MoveNext())
        {
            found.Add(values.Current);
        }

        return found;
    }
}

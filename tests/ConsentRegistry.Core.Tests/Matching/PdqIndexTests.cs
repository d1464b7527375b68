using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Core.Tests.Matching;

public sealed class PdqIndexTests
{
    public static TheoryData<int, PdqSearchStrategy> Radii
    {
        get
        {
            var data = new TheoryData<int, PdqSearchStrategy>();
            foreach (var radius in new[] { 0, 1, 15, 16, 31, 32, 47, 63 })
            {
                foreach (var strategy in Enum.GetValues<PdqSearchStrategy>())
                {
                    data.Add(radius, strategy);
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Radii))]
    public void A_search_finds_exactly_what_a_brute_force_scan_finds(int radius, PdqSearchStrategy strategy)
    {
        var random = new Random(4000 + radius);
        var (index, hashes, queries) = RandomWithPlantedNeighbours(random, 30_000);
        index.Strategy = strategy;

        Assert.True(index.SegmentCount > 1, "the index should hold several segments and a tail");
        foreach (var query in queries)
        {
            AssertSameAsBruteForce(index, hashes, query, radius);
        }
    }

    [Theory]
    [MemberData(nameof(Radii))]
    public void A_compacted_index_finds_exactly_what_a_brute_force_scan_finds(int radius, PdqSearchStrategy strategy)
    {
        var random = new Random(5000 + radius);
        var (index, hashes, queries) = RandomWithPlantedNeighbours(random, 150_000);
        index.Strategy = strategy;

        index.Compact();

        Assert.Equal(1, index.SegmentCount);
        foreach (var query in queries)
        {
            AssertSameAsBruteForce(index, hashes, query, radius);
        }
    }

    [Theory]
    [InlineData(15)]
    [InlineData(31)]
    [InlineData(47)]
    [InlineData(63)]
    public void Neighbours_whose_flips_are_spread_as_evenly_as_possible_are_found_at_the_radius_and_not_past_it(int radius)
    {
        // The pigeonhole edge: 15 slots with one flip more than the budget, one slot within it.
        var random = new Random(radius);
        var index = new PdqIndex { Strategy = PdqSearchStrategy.Probe };
        var hashes = new List<PdqHash>();
        var query = RandomHash(random);
        for (var lucky = 0; lucky < 16; lucky++)
        {
            foreach (var distance in new[] { radius, radius + 1 })
            {
                var flips = new List<int>();
                for (var slot = 0; slot < 16; slot++)
                {
                    var inSlot = slot == lucky ? distance - 15 * ((radius >> 4) + 1) : (radius >> 4) + 1;
                    flips.AddRange(Enumerable.Range(0, 16).OrderBy(_ => random.Next()).Take(inSlot).Select(bit => slot * 16 + bit));
                }

                AddTo(index, hashes, Flip(query, flips));
            }
        }

        for (var i = 0; i < 5000; i++)
        {
            AddTo(index, hashes, RandomHash(random));
        }

        var hits = AssertSameAsBruteForce(index, hashes, query, radius);
        Assert.Equal(16, hits.Count(hit => hit.Distance == radius));
        Assert.DoesNotContain(hits, hit => hit.Distance > radius);
    }

    [Fact]
    public void Searches_between_incremental_adds_see_every_hash_added_so_far()
    {
        var random = new Random(11);
        var index = new PdqIndex { Strategy = PdqSearchStrategy.Probe };
        var hashes = new List<PdqHash>();
        var queries = new List<PdqHash>();
        for (var round = 0; round < 40; round++)
        {
            var batch = random.Next(1, 1500);
            for (var i = 0; i < batch; i++)
            {
                if (queries.Count > 0 && random.Next(3) == 0)
                {
                    var near = queries[random.Next(queries.Count)];
                    AddTo(index, hashes, Flip(near, RandomBits(random, random.Next(0, 70))));
                }
                else
                {
                    AddTo(index, hashes, RandomHash(random));
                }
            }

            queries.Add(RandomHash(random));
            foreach (var query in queries.TakeLast(5))
            {
                AssertSameAsBruteForce(index, hashes, query, 31);
                AssertSameAsBruteForce(index, hashes, query, 47);
            }
        }
    }

    [Fact]
    public void Deferred_merges_change_nothing_a_search_finds_before_or_after_they_are_committed()
    {
        var random = new Random(12);
        var index = new PdqIndex { DeferMerges = true };
        var hashes = new List<PdqHash>();
        var query = RandomHash(random);
        for (var i = 0; i < PdqIndex.TailLimit * PdqIndex.Fanout + 100; i++)
        {
            AddTo(index, hashes, i % 97 == 0 ? Flip(query, RandomBits(random, i % 40)) : RandomHash(random));
        }

        Assert.Equal(PdqIndex.Fanout, index.SegmentCount);
        var merge = index.PrepareMerge();
        Assert.NotNull(merge);
        Assert.Equal(PdqIndex.Fanout, index.SegmentCount);
        AssertSameAsBruteForce(index, hashes, query, 31);

        index.CommitMerge(merge);

        Assert.Equal(1, index.SegmentCount);
        Assert.Null(index.PrepareMerge());
        AssertSameAsBruteForce(index, hashes, query, 31);
        AssertSameAsBruteForce(index, hashes, query, 47);
        Assert.Throws<InvalidOperationException>(() => index.CommitMerge(merge));
    }

    [Fact]
    public void Adds_keep_most_entries_in_the_largest_segment_and_searches_exact()
    {
        var random = new Random(13);
        var (index, hashes, queries) = RandomWithPlantedNeighbours(random, 400_000);

        var largest = index.SegmentSizes.Max();
        Assert.True(
            (index.Count - largest) * PdqIndex.Fanout < index.Count + (PdqIndex.WholeMergeMinimum * PdqIndex.Fanout),
            $"segments {string.Join(", ", index.SegmentSizes)}: the rest should be merged into the largest");
        foreach (var query in queries)
        {
            AssertSameAsBruteForce(index, hashes, query, 31);
        }
    }

    /// <summary>
    /// A segment holds at most what one record array can (<see cref="PdqSegment.MaxEntries"/>,
    /// 71,582,786 entries): past it merges and compaction leave several segments, and searches stay
    /// exact. Shown with the cap lowered to a little over <see cref="PdqIndex.Fanout"/> tails.
    /// </summary>
    [Fact]
    public void With_segments_capped_merges_and_compaction_keep_within_the_cap_and_searches_stay_exact()
    {
        const int Cap = (PdqIndex.Fanout * PdqIndex.TailLimit) + 1_000;
        var random = new Random(21);
        var (index, hashes, queries) = RandomWithPlantedNeighbours(random, 60_000, new PdqIndex { MaxSegmentEntries = Cap });

        Assert.All(index.SegmentSizes, size => Assert.InRange(size, 1, Cap));
        Assert.Contains(PdqIndex.Fanout * PdqIndex.TailLimit, index.SegmentSizes); // tails still merge below the cap
        foreach (var query in queries)
        {
            AssertSameAsBruteForce(index, hashes, query, 31);
            AssertSameAsBruteForce(index, hashes, query, 47);
        }

        index.Compact();

        Assert.All(index.SegmentSizes, size => Assert.InRange(size, 1, Cap));
        Assert.InRange(index.SegmentCount, 60_000 / Cap, 2 * 60_000 / Cap);
        Assert.Equal(60_000, index.SegmentSizes.Sum()); // the tail too
        foreach (var query in queries)
        {
            AssertSameAsBruteForce(index, hashes, query, 31);
            AssertSameAsBruteForce(index, hashes, query, 47);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => new PdqIndex { MaxSegmentEntries = PdqIndex.TailLimit - 1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new PdqIndex { MaxSegmentEntries = PdqSegment.MaxEntries + 1 });
    }

    [Fact]
    public void An_empty_index_finds_nothing()
    {
        var index = new PdqIndex();
        var hits = new List<PdqHit>();

        index.Search(RandomHash(new Random(1)), 63, hits);
        index.Compact();
        index.Search(PdqHash.Zero, 256, hits);

        Assert.Empty(hits);
        Assert.Equal(0, index.Count);
    }

    [Fact]
    public void The_same_hash_claimed_several_times_is_found_once_for_each_value()
    {
        var random = new Random(3);
        var index = new PdqIndex();
        var shared = RandomHash(random);
        for (var i = 0; i < 10_000; i++)
        {
            index.Add(i % 1000 == 0 ? shared : RandomHash(random), i);
        }

        foreach (var compacted in new[] { false, true })
        {
            if (compacted)
            {
                index.Compact();
            }

            var hits = new List<PdqHit>();
            index.Search(Flip(shared, [3, 100, 200]), 31, hits);
            Assert.Equal(Enumerable.Range(0, 10).Select(i => new PdqHit(i * 1000, 3)), hits.OrderBy(h => h.Value));
        }
    }

    [Fact]
    public void A_hash_claimed_more_than_65535_times_in_one_segment_is_found_for_every_value()
    {
        // One bucket then holds more entries than a 16-bit offset from its group's base can reach.
        var random = new Random(11);
        var index = new PdqIndex();
        var shared = RandomHash(random);
        for (var i = 0; i < 100_000; i++)
        {
            index.Add(i % 10 == 0 ? RandomHash(random) : shared, i);
        }

        index.Compact();

        var hits = new List<PdqHit>();
        index.Search(Flip(shared, [0, 17, 255]), 31, hits);
        Assert.Equal(90_000, hits.Count);
        Assert.All(hits, hit => Assert.True(hit.Value % 10 != 0 && hit.Distance == 3));
        Assert.Equal(90_000, hits.Select(hit => hit.Value).Distinct().Count());
    }

    [Fact]
    public void Radii_beyond_the_probed_range_are_answered_by_a_scan()
    {
        var random = new Random(8);
        var (index, hashes, queries) = RandomWithPlantedNeighbours(random, 5000);

        foreach (var radius in new[] { 64, 100, 256, 1000 })
        {
            AssertSameAsBruteForce(index, hashes, queries[0], radius);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => index.Search(queries[0], -1, []));
    }

    private static (PdqIndex Index, List<PdqHash> Hashes, List<PdqHash> Queries) RandomWithPlantedNeighbours(Random random, int count, PdqIndex? index = null)
    {
        index ??= new PdqIndex();
        var hashes = new List<PdqHash>();
        var queries = Enumerable.Range(0, 6).Select(_ => RandomHash(random)).ToList();
        var planted = queries.SelectMany(q => Enumerable.Range(0, 72).Select(d => Flip(q, RandomBits(random, d)))).ToList();
        for (var i = 0; i < count; i++)
        {
            // Planted neighbours land all over: in merged segments, in younger ones, in the tail.
            AddTo(index, hashes, i % (count / planted.Count) == 0 && i / (count / planted.Count) < planted.Count
                ? planted[i / (count / planted.Count)]
                : RandomHash(random));
        }

        return (index, hashes, queries);
    }

    private static List<PdqHit> AssertSameAsBruteForce(PdqIndex index, List<PdqHash> hashes, PdqHash query, int radius)
    {
        var expected = hashes
            .Select((hash, value) => new PdqHit(value, hash.HammingDistance(query)))
            .Where(hit => hit.Distance <= radius)
            .ToList();
        var hits = new List<PdqHit>();
        index.Search(query, radius, hits);

        Assert.Equal(expected, hits.OrderBy(hit => hit.Value));
        return hits;
    }

    private static void AddTo(PdqIndex index, List<PdqHash> hashes, PdqHash hash)
    {
        index.Add(hash, hashes.Count);
        hashes.Add(hash);
    }

    internal static PdqHash RandomHash(Random random)
    {
        Span<ulong> parts = stackalloc ulong[4];
        random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(parts));
        return new PdqHash(parts[0], parts[1], parts[2], parts[3]);
    }

    internal static int[] RandomBits(Random random, int count) =>
        Enumerable.Range(0, PdqHash.BitCount).OrderBy(_ => random.Next()).Take(count).ToArray();

    internal static PdqHash Flip(PdqHash hash, IEnumerable<int> bits)
    {
        Span<ulong> parts = [hash.GetPart(0), hash.GetPart(1), hash.GetPart(2), hash.GetPart(3)];
        foreach (var bit in bits)
        {
            parts[bit >> 6] ^= 1UL << (bit & 63);
        }

        return new PdqHash(parts[0], parts[1], parts[2], parts[3]);
    }
}

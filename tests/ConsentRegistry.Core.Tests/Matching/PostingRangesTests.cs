using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Tests.Matching;

public sealed class PostingRangesTests
{
    [Fact]
    public void Ranges_and_the_claim_of_each_posting_agree_with_a_start_per_claim()
    {
        // Mostly 0 or 1 postings (one-subject claims), runs of empty claims longer than a block,
        // and counts of 255 and more (kept aside).
        var random = new Random(3);
        var ranges = new PostingRanges();
        var starts = new List<int> { 0 };
        for (var claim = 0; claim < 20_000; claim++)
        {
            var count = claim is >= 5_000 and < 5_100 ? 0
                : random.Next(200) == 0 ? random.Next(255, 3_000)
                : random.Next(3);
            ranges.Append(count);
            starts.Add(starts[^1] + count);
        }

        Assert.Equal(starts, ranges.Starts());
        Assert.Equal(starts[^1], ranges.Total);
        for (var claim = 0; claim < 20_000; claim++)
        {
            Assert.Equal((starts[claim], starts[claim + 1]), ranges.Range(claim));
        }

        var owner = 0;
        for (var posting = 0; posting < ranges.Total; posting++)
        {
            while (starts[owner + 1] <= posting)
            {
                owner++;
            }

            Assert.Equal(owner, ranges.ClaimOf(posting));
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => ranges.ClaimOf(ranges.Total));
        ranges.TrimExcess();
        Assert.Equal(starts, PostingRanges.FromStarts([.. starts]).Starts());
        Assert.Equal((starts[19_999], starts[20_000]), ranges.Range(19_999));
    }

    [Fact]
    public void Trimmed_while_empty_or_small_the_ranges_still_grow()
    {
        // The serving index compacts its empty index at start, then takes claims one by one.
        var ranges = new PostingRanges();
        ranges.TrimExcess();
        for (var claim = 0; claim < 1_000; claim++)
        {
            ranges.Append(claim % 2);
            if (claim == 1)
            {
                ranges.TrimExcess();
            }
        }

        Assert.Equal(500, ranges.Total);
        Assert.Equal((499, 500), ranges.Range(999));
        Assert.Equal(999, ranges.ClaimOf(499));
    }

    [Fact]
    public void Starts_that_do_not_begin_at_zero_or_go_back_are_refused()
    {
        Assert.Throws<SnapshotFormatException>(() => PostingRanges.FromStarts([1, 2]));
        Assert.Throws<SnapshotFormatException>(() => PostingRanges.FromStarts([0, 3, 2]));
        Assert.Throws<SnapshotFormatException>(() => PostingRanges.FromStarts([]));
        Assert.Equal(0, PostingRanges.FromStarts([0]).Count);
    }
}

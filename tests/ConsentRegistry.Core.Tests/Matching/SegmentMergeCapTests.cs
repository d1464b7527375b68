using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Core.Tests.Matching;

/// <summary>
/// No merge and no compaction makes a segment larger than one array holds: a PDQ segment's records
/// are one array of 30 bytes an entry (71,582,786 entries at most), a key segment's entries one
/// array. Tested on the segment sizes alone, at the real cap.
/// </summary>
public sealed class SegmentMergeCapTests
{
    private static readonly int Cap = PdqSegment.MaxEntries;

    [Fact]
    public void A_PDQ_segment_holds_what_one_record_array_can()
    {
        Assert.Equal(71_582_786, PdqSegment.MaxEntries);
        Assert.True(PdqSegment.RecordArrayLength(PdqSegment.MaxEntries) <= Array.MaxLength);
        Assert.True(PdqSegment.RecordArrayLength(PdqSegment.MaxEntries + 1) > Array.MaxLength);
    }

    [Fact]
    public void No_merge_is_due_that_would_outgrow_the_cap()
    {
        // The rest is a quarter of the entries: a whole merge, of 80 million entries.
        Assert.Equal(2, SegmentMerges.Due([60_000_000, 20_000_000], PdqIndex.TailLimit, long.MaxValue));
        Assert.Equal(0, SegmentMerges.Due([60_000_000, 20_000_000], PdqIndex.TailLimit, Cap));

        // Full segments stay as they are; the newest ones merge among themselves.
        Assert.Equal(6, SegmentMerges.Due([Cap, Cap, 2_048, 2_048, 2_048, 2_048], PdqIndex.TailLimit, long.MaxValue));
        Assert.Equal(4, SegmentMerges.Due([Cap, Cap, 2_048, 2_048, 2_048, 2_048], PdqIndex.TailLimit, Cap));

        // Below the cap nothing changes.
        int[] sizes = [40_000_000, 131_072, 32_768, 32_768, 32_768, 32_768];
        Assert.Equal(SegmentMerges.Due(sizes, PdqIndex.TailLimit, long.MaxValue), SegmentMerges.Due(sizes, PdqIndex.TailLimit, Cap));
    }

    [Fact]
    public void Compaction_fills_segments_in_order_up_to_the_cap()
    {
        Assert.Equal(new[] { 3 }, SegmentMerges.CompactRuns([40_000_000, 30_000_000, 2_000], Cap));
        Assert.Equal(new[] { 3, 2 }, SegmentMerges.CompactRuns([Cap - 10, 5, 5, 2_048, 100], Cap));
        Assert.Equal(new[] { 1, 1, 1 }, SegmentMerges.CompactRuns([Cap, 40_000_000, 40_000_000], Cap));
        Assert.Empty(SegmentMerges.CompactRuns([], Cap));
    }
}

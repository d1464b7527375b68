using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Core.Tests.Matching;

/// <summary>
/// The index's sizes at the counts where int arithmetic wraps (docs/scale.md plans for 1.5 billion
/// subjects on one node): tested on the arithmetic itself, since no test can allocate the gigabytes
/// those counts take.
/// </summary>
public sealed class IndexSizeLimitTests
{
    [Fact]
    public void A_PDQ_segment_past_71_582_788_entries_sizes_its_records_without_wrapping()
    {
        Assert.Equal(2_147_483_640L, PdqSegment.RecordArrayLength(71_582_788));
        Assert.Equal(2_147_483_670L, PdqSegment.RecordArrayLength(71_582_789)); // wrapped negative: the allocation threw
        Assert.Equal(4_294_967_310L, PdqSegment.RecordArrayLength(143_165_577)); // wrapped to 14 bytes: records were written past them
    }

    [Fact]
    public void Hash_words_past_one_array_are_refused_not_wrapped()
    {
        Assert.Equal(2_147_483_588, PdqIndex.HashWords(536_870_897));
        Assert.Throws<ArgumentOutOfRangeException>(() => PdqIndex.HashWords(536_870_898));
        Assert.Throws<ArgumentOutOfRangeException>(() => PdqIndex.HashWords(536_870_912)); // wrapped to int.MinValue
    }

    [Fact]
    public void A_key_segment_merged_past_one_array_is_refused_not_wrapped()
    {
        Assert.Equal(Array.MaxLength, KeySegment.MergedLength([Array.MaxLength - 5, 5]));
        Assert.Throws<InvalidOperationException>(() => KeySegment.MergedLength([Array.MaxLength - 5, 6]));
        Assert.Throws<InvalidOperationException>(() => KeySegment.MergedLength([1_500_000_000, 1_000_000_000])); // wrapped negative
    }
}

using ConsentRegistry.Core.Claims;
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
    public void The_usage_column_of_429_496_730_claims_is_sized_without_wrapping()
    {
        Assert.Equal(2_147_483_645L, MatchingIndex.UsageColumnLength(429_496_729));
        Assert.Equal(2_147_483_650L, MatchingIndex.UsageColumnLength(429_496_730));
        Assert.Equal(5L * int.MaxValue, MatchingIndex.UsageColumnLength(int.MaxValue));
    }

    [Fact]
    public void The_claim_table_grows_by_half_up_to_what_its_arrays_hold_and_only_then_is_full()
    {
        Assert.Equal(1, ClaimTable.GrownCapacity(0));
        Assert.Equal(2, ClaimTable.GrownCapacity(1));
        Assert.Equal(1_500_000, ClaimTable.GrownCapacity(1_000_000));
        Assert.Equal(2_145_000_000, ClaimTable.GrownCapacity(1_430_000_000));
        Assert.Equal(Array.MaxLength - 1, ClaimTable.GrownCapacity(1_432_000_000)); // past int range at 1.5×: it threw
        Assert.Equal(Array.MaxLength - 1, ClaimTable.GrownCapacity(Array.MaxLength - 2));
        var full = Assert.Throws<InvalidOperationException>(() => ClaimTable.GrownCapacity(Array.MaxLength - 1));
        Assert.Contains("full", full.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_id_table_is_rebuilt_only_when_it_can_grow()
    {
        Assert.Null(ClaimTable.IdSlotsAfterAdd(750, 1_000));
        Assert.Equal(1_503, ClaimTable.IdSlotsAfterAdd(751, 1_000));

        // At Array.MaxLength slots it cannot grow: rebuilding it the same size on every add past
        // three quarters (1.61 billion claims) made each add cost a pass over every claim.
        Assert.Null(ClaimTable.IdSlotsAfterAdd(1_700_000_000, Array.MaxLength));
        Assert.Equal(Array.MaxLength, ClaimTable.IdSlotsAfterAdd(1_600_000_000, 2_000_000_000));
    }

    [Fact]
    public void A_key_segment_merged_past_one_array_is_refused_not_wrapped()
    {
        Assert.Equal(Array.MaxLength, KeySegment.MergedLength([Array.MaxLength - 5, 5]));
        Assert.Throws<InvalidOperationException>(() => KeySegment.MergedLength([Array.MaxLength - 5, 6]));
        Assert.Throws<InvalidOperationException>(() => KeySegment.MergedLength([1_500_000_000, 1_000_000_000])); // wrapped negative
    }

    [Fact]
    public void Subjects_of_a_kind_are_counted_past_2_to_the_31()
    {
        var counts = new SubjectCounts(Url: int.MaxValue, UrlPrefix: 0, Host: 0, Sha256: 0, Pdq: int.MaxValue);

        counts.Add(SubjectKinds.Url);
        counts.Add(SubjectKinds.Pdq);
        counts.Add(SubjectKinds.Pdq);

        Assert.Equal(2_147_483_648L, counts.Url);
        Assert.Equal(2_147_483_649L, counts.Pdq);
        Assert.Equal(2_147_483_649L, counts.Of(SubjectKinds.Pdq));
    }

    [Fact]
    public void A_snapshot_refuses_subjects_of_a_kind_its_i32_field_cannot_hold_rather_than_write_them_wrapped()
    {
        Assert.Equal(new[] { 1, 2, 3, 4, int.MaxValue, 6 }, MatchingIndex.SubjectCountsAsWritten(new SubjectCounts(1, 2, 3, 4, int.MaxValue, 6)));

        var error = Assert.Throws<InvalidOperationException>(() => MatchingIndex.SubjectCountsAsWritten(new SubjectCounts(1, 2, 3, 4, int.MaxValue + 1L, 6)));
        Assert.Contains("pdq", error.Message, StringComparison.Ordinal);
    }
}

using ConsentRegistry.Api.Claims;

namespace ConsentRegistry.Api.Tests.Claims;

/// <summary>
/// What a claim weighs in the log writer's lanes and batches: its subjects, or its signed size, so
/// that a claim of a few very long URLs is large and a small batch cannot hold hundreds of MB.
/// </summary>
public sealed class ClaimWeightTests
{
    [Theory]
    [InlineData(1, 600, 3)] // an artist's one-URL claim: small
    [InlineData(1_000, 175_000, 1_000)] // a thousand LAION-like URLs: small, as before
    [InlineData(10_000, 1_750_000, 10_000)] // ten thousand: large, by its subjects
    [InlineData(760, 8_000_000, 31_250)] // a few hundred 8 KB URLs: large, by its size
    public void A_claim_weighs_its_subjects_or_its_size_whichever_is_more(int subjects, int jwsChars, int weight)
    {
        Assert.Equal(weight, ClaimWriter.WeightOf(subjects, jwsChars));
        Assert.Equal(weight > ClaimWriter.MaxSmallEntrySubjects, subjects > 1_000 || jwsChars > 256_000);
    }
}

using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Core.Tests.Matching;

/// <summary>
/// The claim writer applies its commits without merging and merges once their callers are
/// answered: a write can leave its merges for <see cref="SharedMatchingIndex.TryMerge"/>, and the
/// index answers every claim meanwhile, from more segments.
/// </summary>
public sealed class SharedMatchingIndexMergeTests
{
    private static readonly Usage NoTraining = new(Preference.Unset, Preference.No, Preference.Unset, Preference.Unset, Preference.Unset);

    [Fact]
    public void Merges_left_by_writes_wait_for_TryMerge_and_every_claim_is_found_before_and_after()
    {
        using var shared = new SharedMatchingIndex();
        shared.MarkReady();
        const int Claims = 8;
        for (var claim = 0; claim < Claims; claim++)
        {
            var subjects = Enumerable.Range(0, 10_000).Select(i => new Subject(SubjectKinds.Url, Url(claim, i))).ToArray();
            var indexed = new IndexedClaim(TestClaimIds.Of($"large-{claim}"), claim + 1, "platform", 1_800_000_000, NoTraining, TrustLevel.Signed, false, subjects);
            Assert.True(shared.TryWrite(index => index.Add(indexed), TimeSpan.FromSeconds(10), merge: false));
        }

        var left = UrlSegments(shared);
        AssertEveryClaimFound(shared, Claims);

        Assert.True(shared.TryMerge(TimeSpan.FromSeconds(10)));

        var merged = UrlSegments(shared);
        // 80,000 keys fill 19 tails of 4,096; unmerged, each is a segment of its own.
        Assert.True(left >= 19, $"{left} URL segments after writes that left their merges");
        Assert.True(merged < left / 2, $"{merged} URL segments after the merges, {left} before");
        AssertEveryClaimFound(shared, Claims);
    }

    [Fact]
    public void A_write_that_merges_leaves_nothing_for_TryMerge()
    {
        using var shared = new SharedMatchingIndex();
        shared.MarkReady();
        for (var claim = 0; claim < 8; claim++)
        {
            var subjects = Enumerable.Range(0, 10_000).Select(i => new Subject(SubjectKinds.Url, Url(claim, i))).ToArray();
            var indexed = new IndexedClaim(TestClaimIds.Of($"merged-{claim}"), claim + 1, "platform", 1_800_000_000, NoTraining, TrustLevel.Signed, false, subjects);
            shared.Write(index => index.Add(indexed));
        }

        var segments = UrlSegments(shared);
        Assert.True(shared.TryMerge(TimeSpan.FromSeconds(10)));
        Assert.Equal(segments, UrlSegments(shared));
    }

    private static string Url(int claim, int i) => $"https://platform{claim}.example/works/{i}.jpg";

    private static int UrlSegments(SharedMatchingIndex shared)
    {
        using var read = shared.Read();
        // "url N, url-prefix N, host N, sha256 N"
        return int.Parse(read.Index.KeySegmentCounts().Split(',')[0]["url ".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void AssertEveryClaimFound(SharedMatchingIndex shared, int claims)
    {
        using var read = shared.Read();
        var matches = new List<Match>();
        for (var claim = 0; claim < claims; claim++)
        {
            foreach (var i in new[] { 0, 4_095, 4_096, 9_999 })
            {
                Assert.True(UrlCanonicalizer.TryCanonicalize(Url(claim, i), out var url, out _));
                Assert.Equal(Permission.Disallow, read.Index.Lookup(url, null, TrustLevel.Domain, matches).TrainAi);
            }
        }
    }
}

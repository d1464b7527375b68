using System.Diagnostics;
using ConsentRegistry.Api.Policy;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Policy;

namespace ConsentRegistry.Api.Tests.Policy;

/// <summary>
/// The fold that bounds a policy render's memory: past its limit it cuts paths to the depth that
/// fits in a few passes whatever the deepest subject, and merges parties when every path is cut
/// and the limit is still passed, keeping every opt-out.
/// </summary>
public sealed class HostSubjectFoldTests
{
    private const string Host = "fold.example";
    private static readonly Usage TrainAiNo = new(Preference.Unset, Preference.No, Preference.Unset, Preference.Unset, Preference.Unset);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Over_the_limit_beside_one_very_deep_subject_the_fold_cuts_in_one_step(bool deepInQuery)
    {
        var fold = new HostSubjectFold(Host, maxEntries: 1_000);
        var deep = deepInQuery
            ? $"https://{Host}/x?{string.Concat(Enumerable.Repeat("a/", 4_000))}"
            : $"https://{Host}/{string.Concat(Enumerable.Repeat("a/", 4_000))}z.jpg";
        var clock = Stopwatch.StartNew();

        fold.Add(Claim(party: 1, seq: 1), SubjectKinds.Url, deep, includeSubdomains: false);
        for (var i = 0; i < 1_001; i++)
        {
            fold.Add(Claim(party: 1, seq: 2 + i), SubjectKinds.Url, $"https://{Host}/img{i}.jpg", includeSubdomains: false);
        }

        // One cut: by depth, not one segment a pass (4,000 passes over 1,000 entries took seconds, and minutes at the default limit).
        Assert.Equal(1, fold.Coarsenings);
        Assert.InRange(fold.PeakEntries, 1, 1_001);
        Assert.Contains(fold.ToClaims(), claim => IsRootOptOut(claim));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"{clock.Elapsed}"); // a guard against a hang, not a speed goal
    }

    [Fact]
    public void Many_parties_past_the_limit_with_every_path_cut_are_merged_and_their_opt_outs_kept()
    {
        var fold = new HostSubjectFold(Host, maxEntries: 1_000);

        for (var party = 0; party < 5_000; party++)
        {
            fold.Add(Claim(party, seq: party + 1), SubjectKinds.Url, $"https://{Host}/p{party}.jpg", includeSubdomains: false);
        }

        Assert.InRange(fold.PeakEntries, 1, 1_001);
        var claims = fold.ToClaims();
        Assert.InRange(claims.Count, 1, 1_000);
        Assert.Contains(claims, claim => IsRootOptOut(claim));
    }

    [Fact]
    public void Many_parties_opting_out_of_the_same_deep_url_are_merged_without_cutting_it()
    {
        var fold = new HostSubjectFold(Host, maxEntries: 1_000);
        var url = $"https://{Host}/gallery/2026/piece.jpg";

        for (var party = 0; party < 5_000; party++)
        {
            fold.Add(Claim(party, seq: party + 1), SubjectKinds.Url, url, includeSubdomains: false);
        }

        var claims = fold.ToClaims();
        Assert.InRange(fold.PeakEntries, 1, 1_001);
        var only = Assert.Single(claims);
        Assert.Equal(new Subject(SubjectKinds.Url, url), Assert.Single(only.Subjects));
        Assert.Equal(Preference.No, only.Usage.TrainAi);
    }

    [Fact]
    public void Long_urls_are_cut_when_their_characters_pass_the_limit_before_their_count_does()
    {
        var fold = new HostSubjectFold(Host, maxEntries: 1_000);
        var name = new string('n', 8_000);

        for (var i = 0; i < 500; i++)
        {
            fold.Add(Claim(party: 1, seq: i + 1), SubjectKinds.Url, $"https://{Host}/gallery/{i}/{name}.jpg", includeSubdomains: false);
        }

        // 1,000 entries of 100 characters on average: one URL of 8,000 may pass it before the cut.
        Assert.InRange(fold.PeakChars, 1, (1_000 * HostSubjectFold.CharsPerEntry) + 8_100);
        Assert.True(fold.Coarsened);
        Assert.Equal( // cut to the deepest folders that fit, each still opted out
            Enumerable.Range(0, 500).Select(i => ($"https://{Host}/gallery/{i}/", Preference.No)).Order(),
            fold.ToClaims().Select(c => (Assert.Single(c.Subjects, s => s.Kind == SubjectKinds.UrlPrefix).Value, c.Usage.TrainAi)).Order());
    }

    /// <summary>Every path cut to the host's root: an opt-out of the whole host's https URLs.</summary>
    private static bool IsRootOptOut(PolicyClaim claim) =>
        claim.Subjects is [{ Kind: SubjectKinds.UrlPrefix, Value: $"https://{Host}/" }] && claim.Usage.TrainAi == Preference.No;

    private static HostSubjectFold.Claim Claim(int party, long seq) => new(party, 1_700_000_000 + seq, seq, TrainAiNo, CountsGrants: true, Policy: null);
}

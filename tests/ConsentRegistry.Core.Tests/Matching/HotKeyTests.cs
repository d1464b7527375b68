using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Core.Tests.Matching;

/// <summary>
/// Keys shared by many claims are resolved from aggregates kept at write time: the answer must be
/// exactly what walking every posting gives, and an item lists at most 16 matches plus a count.
/// </summary>
public sealed class HotKeyTests
{
    private static readonly Usage No = Usage(Preference.No);
    private static readonly Usage Yes = Usage(Preference.Yes);

    [Fact]
    public void Two_thousand_claims_on_one_host_list_sixteen_matches_strongest_and_newest_first_and_count_the_rest()
    {
        var index = new MatchingIndex();
        for (var i = 0; i < 2000; i++)
        {
            index.Add(Claim($"c{i}", seq: i + 1, party: $"p{i}", iat: 1_000 + i, i == 500 ? Yes : No, Host("artist.example")));
        }

        index.SetTrust(TestClaimIds.Of("c500"), TrustLevel.Reviewed, 2001);
        index.SetTrust(TestClaimIds.Of("c10"), TrustLevel.Domain, 2002);
        var matches = new List<Match>();

        var decision = index.Lookup(Url("https://artist.example/a.jpg"), null, TrustLevel.Domain, matches, out var more);

        Assert.Equal(1, index.HotKeyCount);
        Assert.Equal(Permission.Disallow, decision.TrainAi); // 1,999 "n" against one reviewed "y": any "n" wins
        Assert.Equal(MatchingIndex.MaxListedMatches, matches.Count);
        Assert.Equal(2000 - MatchingIndex.MaxListedMatches, more);
        var listed = matches.Select(m => TestClaimIds.Name(index.Claim(m.Claim).Id)).ToList();
        Assert.Equal(["c500", "c10", "c1999", "c1998"], listed.Take(4)); // reviewed, domain, then newest first
        Assert.All(matches, m => Assert.Equal(MatchKind.Host, m.By));
    }

    [Fact]
    public void Revoking_or_demoting_a_partys_latest_claim_on_a_hot_key_brings_its_previous_claim_back()
    {
        var index = new MatchingIndex(hotKeyPostings: 2);
        index.Add(Claim("old", seq: 1, party: "artist", iat: 100, No, Host("artist.example")));
        index.Add(Claim("new", seq: 2, party: "artist", iat: 200, Yes, Host("artist.example")));
        index.Add(Claim("other", seq: 3, party: "platform", iat: 150, Yes, Host("artist.example")));
        index.SetTrust(TestClaimIds.Of("new"), TrustLevel.Reviewed, 4);
        index.SetTrust(TestClaimIds.Of("other"), TrustLevel.Reviewed, 5);
        var matches = new List<Match>();
        var url = Url("https://artist.example/a.jpg");

        Assert.Equal(Permission.Allow, index.Lookup(url, null, TrustLevel.Domain, matches).TrainAi); // "new" supersedes "old"
        Assert.Equal(["new", "other"], matches.Select(m => TestClaimIds.Name(index.Claim(m.Claim).Id)));

        index.Revoke(TestClaimIds.Of("new"), 6);
        Assert.Equal(Permission.Disallow, index.Lookup(url, null, TrustLevel.Domain, matches).TrainAi);
        Assert.Equal(["other", "old"], matches.Select(m => TestClaimIds.Name(index.Claim(m.Claim).Id)));

        index.Revoke(TestClaimIds.Of("old"), 7);
        Assert.Equal(Permission.Allow, index.Lookup(url, null, TrustLevel.Domain, matches).TrainAi);
        index.SetTrust(TestClaimIds.Of("other"), TrustLevel.Signed, 8);
        Assert.Equal(Permission.Unknown, index.Lookup(url, null, TrustLevel.Domain, matches).TrainAi);
        Assert.Equal(1, index.HotKeyCount);
    }

    [Fact]
    public void Many_parties_on_one_pdq_hash_list_sixteen_and_a_partys_older_claims_drop_out()
    {
        var index = new MatchingIndex();
        var hash = new string('7', 64);
        for (var i = 0; i < 100; i++)
        {
            index.Add(Claim($"old{i}", seq: (2 * i) + 1, party: $"p{i}", iat: 100, Yes, new Subject(SubjectKinds.Pdq, hash)));
            index.Add(Claim($"new{i}", seq: (2 * i) + 2, party: $"p{i}", iat: 200, No, new Subject(SubjectKinds.Pdq, hash)));
        }

        var matches = new List<Match>();
        var decision = index.Lookup(null, null, TrustLevel.Signed, matches, out var more, Core.Pdq.PdqHash.ParseHex(hash), 0);

        Assert.Equal(Permission.Disallow, decision.TrainAi); // every party's latest claim says "n"; the older "y"s are superseded
        Assert.Equal(MatchingIndex.MaxListedMatches, matches.Count);
        Assert.Equal(100 - MatchingIndex.MaxListedMatches, more);
        Assert.All(matches, m => Assert.StartsWith("new", TestClaimIds.Name(index.Claim(m.Claim).Id), StringComparison.Ordinal));
        Assert.Equal(["new99", "new98"], matches.Take(2).Select(m => TestClaimIds.Name(index.Claim(m.Claim).Id)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(20261204)]
    public void Random_operations_answer_the_same_from_hot_keys_as_from_walking_every_posting_and_from_hot_keys_found_after_a_bulk_load(int seed)
    {
        var random = new Random(seed);
        var hot = new MatchingIndex(hotKeyPostings: 2);
        var cold = new MatchingIndex(hotKeyPostings: int.MaxValue);
        var bulk = new MatchingIndex(hotKeyPostings: 2); // finds its hot keys when compacted, halfway
        bulk.BeginBulkLoad();
        string[] hosts = ["a.example", "sub.a.example", "b.example"];
        string[] paths = ["/", "/x.jpg", "/art/y.png"];
        var ids = new List<string>();
        var hotMatches = new List<Match>();
        var coldMatches = new List<Match>();
        long seq = 0;
        var compared = 0;

        for (var op = 0; op < 3000; op++)
        {
            if (op == 1500)
            {
                Assert.Equal(0, bulk.HotKeyCount);
                bulk.Compact();
                Assert.Equal(hot.HotKeyCount, bulk.HotKeyCount);
            }

            var roll = random.Next(100);
            if (roll < 50 || ids.Count == 0)
            {
                var host = hosts[random.Next(hosts.Length)];
                var subjects = new List<Subject>();
                for (var n = random.Next(1, 3); n > 0; n--)
                {
                    subjects.Add(random.Next(4) switch
                    {
                        0 => new Subject(SubjectKinds.Url, $"https://{host}{paths[random.Next(paths.Length)]}"),
                        1 => new Subject(SubjectKinds.UrlPrefix, $"https://{host}/art/"),
                        2 => new Subject(SubjectKinds.Sha256, new string((char)('a' + random.Next(2)), 64)),
                        _ => Host(host, random.Next(2) == 0),
                    });
                }

                var usage = Usage(random.Next(3) == 0 ? Preference.Yes : Preference.No);
                var claim = Claim($"c{op}", ++seq, $"p{random.Next(12)}", random.Next(1_000), usage, [.. subjects]);
                hot.Add(claim);
                cold.Add(claim);
                bulk.Add(claim);
                ids.Add(claim.Id);
            }
            else if (roll < 65)
            {
                var id = ids[random.Next(ids.Count)];
                seq++;
                hot.Revoke(id, seq);
                cold.Revoke(id, seq);
                bulk.Revoke(id, seq);
            }
            else if (roll < 80)
            {
                var id = ids[random.Next(ids.Count)];
                var trust = random.Next(3) switch { 0 => TrustLevel.Signed, 1 => TrustLevel.Domain, _ => TrustLevel.Reviewed };
                seq++;
                hot.SetTrust(id, trust, seq);
                cold.SetTrust(id, trust, seq);
                bulk.SetTrust(id, trust, seq);
            }
            else
            {
                var host = hosts[random.Next(hosts.Length)];
                var url = Url($"https://{host}{paths[random.Next(paths.Length)]}");
                var sha = random.Next(3) == 0 ? new string((char)('a' + random.Next(2)), 64) : null;
                var minTrust = random.Next(2) == 0 ? TrustLevel.Domain : TrustLevel.Reviewed;
                var expected = cold.Lookup(url, sha, minTrust, coldMatches, out var expectedMore);
                var actual = hot.Lookup(url, sha, minTrust, hotMatches, out var actualMore);
                Assert.Equal(expected, actual);
                Assert.Equal(coldMatches, hotMatches);
                Assert.Equal(expectedMore, actualMore);
                Assert.Equal(expected, bulk.Lookup(url, sha, minTrust, hotMatches, out var bulkMore));
                Assert.Equal(coldMatches, hotMatches);
                Assert.Equal(expectedMore, bulkMore);
                Assert.True(coldMatches.Count <= MatchingIndex.MaxListedMatches);
                if (sha is null)
                {
                    // The decision-only path (the Spawning-compatible endpoint) agrees and counts every deciding pair.
                    Assert.Equal(expected, hot.Decide(url!.Value, minTrust, out var deciding));
                    Assert.True(deciding >= hotMatches.Count + actualMore, $"{deciding} deciding, {hotMatches.Count} listed + {actualMore} more"); // each listed match stands for one pair or more
                    Assert.Equal(hotMatches.Count > 0, deciding > 0);
                }
                compared++;
            }
        }

        Assert.True(hot.HotKeyCount > 10, $"only {hot.HotKeyCount} keys turned hot");
        Assert.Equal(0, cold.HotKeyCount);
        Assert.True(compared > 400);
    }

    private static Usage Usage(Preference preference) => new(preference, preference, preference, preference, preference);

    private static Subject Host(string host, bool includeSubdomains = true) => new(SubjectKinds.Host, host, includeSubdomains);

    private static CanonicalUrl? Url(string url) =>
        UrlCanonicalizer.TryCanonicalize(url, out var canonical, out _) ? canonical : throw new ArgumentException(url);

    private static IndexedClaim Claim(string id, long seq, string party, long iat, Usage usage, params Subject[] subjects) =>
        new(TestClaimIds.Of(id), seq, party, iat, usage, TrustLevel.Signed, Revoked: false, subjects);
}

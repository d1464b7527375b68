using ConsentRegistry.Core.Tests.Matching;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using static ConsentRegistry.Core.Tests.Policy.PolicyTestClaims;

namespace ConsentRegistry.Core.Tests.Policy;

public sealed class HostClaimsIndexTests
{
    private static IndexedClaim Indexed(string id, long seq, params Subject[] subjects) =>
        new(TestClaimIds.Of(id), seq, "party", 1, TrainAiNo, TrustLevel.Signed, false, subjects);

    [Fact]
    public void The_index_lists_each_claim_once_per_host_with_the_last_seq_that_touched_the_host()
    {
        var index = new MatchingIndex();
        index.Add(Indexed("a", 1, new Subject("url", "https://artist.example/1.jpg"), new Subject("url", "https://artist.example/2.jpg")));
        index.Add(Indexed("b", 2, new Subject("url-prefix", "https://other.test/p/"), new Subject("sha256", new string('0', 64))));
        index.Add(Indexed("c", 3, new Subject("host", "example", true)));
        index.Add(Indexed("d", 4, new Subject("url", "https://artist.example:8080/x.jpg")));
        var claims = new List<ClaimEntry>();

        var seq = index.HostClaims("artist.example", claims);

        Assert.Equal(3, seq);
        Assert.Equal(["a", "c"], claims.Select(c => TestClaimIds.Name(c.Id)).Order());
        Assert.Equal(2, index.HostClaims("other.test", null));
        Assert.Equal(3, index.HostClaims("www.other.example", null)); // the host claim on "example" includes subdomains
        Assert.Equal(0, index.HostClaims("nobody.test", claims));
        Assert.Empty(claims);
    }

    [Fact]
    public void A_revocation_or_trust_change_moves_the_hosts_seq_and_a_revoked_claim_drops_out()
    {
        var index = new MatchingIndex();
        index.Add(Indexed("a", 1, new Subject("url", "https://one.example/1.jpg"), new Subject("host", "two.example")));
        index.Add(Indexed("b", 2, new Subject("url", "https://three.example/1.jpg")));
        var claims = new List<ClaimEntry>();

        index.SetTrust(TestClaimIds.Of("a"), TrustLevel.Reviewed, 3);
        Assert.Equal(3, index.HostClaims("one.example", null));
        Assert.Equal(3, index.HostClaims("two.example", null));
        index.Revoke(TestClaimIds.Of("a"), 4);

        Assert.Equal(4, index.HostClaims("two.example", claims));
        Assert.Empty(claims);
        Assert.Equal(2, index.HostClaims("three.example", null));
    }

    [Fact]
    public void A_claim_with_subjects_on_a_host_and_on_its_parent_with_subdomains_is_listed_once()
    {
        var index = new MatchingIndex();
        index.Add(Indexed("a", 1, new Subject("host", "artist.example", true), new Subject("url", "https://www.artist.example/x.jpg")));
        var claims = new List<ClaimEntry>();

        index.HostClaims("www.artist.example", claims);

        Assert.Equal("a", TestClaimIds.Name(Assert.Single(claims).Id));
    }

    [Fact]
    public void A_subdomain_sees_only_its_parents_host_claims_with_subdomains()
    {
        var index = new MatchingIndex();
        index.Add(Indexed("host-with-subdomains", 1, new Subject("host", "artist.example", true)));
        var before = index.HostClaims("www.artist.example", null);
        index.Add(Indexed("url-on-parent", 2, new Subject("url", "https://artist.example/a.jpg"), new Subject("url-prefix", "https://artist.example/p/")));
        index.Add(Indexed("host-without-subdomains", 3, new Subject("host", "artist.example")));
        var claims = new List<ClaimEntry>();

        Assert.Equal(before, index.HostClaims("www.artist.example", claims));
        Assert.Equal(["host-with-subdomains"], claims.Select(c => TestClaimIds.Name(c.Id)));
        Assert.Equal(3, index.HostClaims("artist.example", claims));
        Assert.Equal(3, claims.Count);

        index.Add(Indexed("more-subdomains", 4, new Subject("host", "artist.example", true)));
        Assert.Equal(4, index.HostClaims("www.artist.example", claims));
        Assert.Equal(["host-with-subdomains", "more-subdomains"], claims.Select(c => TestClaimIds.Name(c.Id)));
    }

    [Fact]
    public void The_host_lists_survive_compaction_and_later_claims()
    {
        var index = new MatchingIndex();
        for (var i = 1; i <= 300; i++)
        {
            index.Add(Indexed($"c{i}", i, new Subject("url", $"https://h{i % 7}.example/{i}.jpg"), new Subject("sha256", new string('0', 64))));
        }

        index.Compact();
        index.Add(Indexed("late", 301, new Subject("url-prefix", "https://h3.example/late/")));
        var claims = new List<ClaimEntry>();

        Assert.Equal(301, index.HostClaims("h3.example", claims));
        Assert.Equal(Enumerable.Range(1, 300).Where(i => i % 7 == 3).Select(i => $"c{i}").Append("late"), claims.Select(c => TestClaimIds.Name(c.Id)));
    }

    [Fact]
    public void Seqs_beyond_32_bits_and_thousands_of_hosts_keep_each_hosts_last_seq()
    {
        var index = new MatchingIndex();
        const long Far = (1L << 36) + 5; // a log past four billion entries
        for (var i = 0; i < 3_000; i++) // the host table grows several times
        {
            index.Add(Indexed($"c{i}", Far + i, new Subject("url", $"https://h{i % 1_000}.example/{i}.jpg")));
        }

        Assert.True(index.Revoke(TestClaimIds.Of("c5"), Far + 10_000));
        Assert.Equal(Far + 10_000, index.HostClaims("h5.example", null));
        Assert.Equal(Far + 2_006, index.HostClaims("h6.example", null));
        Assert.Equal(0, index.HostClaims("h1000.example", null));
    }

    [Fact]
    public void An_index_compacted_while_empty_takes_claims_after_as_the_service_does_at_start()
    {
        var index = new MatchingIndex();
        index.BeginBulkLoad();
        index.Compact();
        for (var i = 1; i <= 100; i++)
        {
            index.Add(Indexed($"c{i}", i, new Subject("url", $"https://h{i % 3}.example/{i}.jpg")));
        }

        var claims = new List<ClaimEntry>();
        Assert.Equal(99, index.HostClaims("h0.example", claims));
        Assert.Equal(33, claims.Count);
        Assert.True(index.TryFindClaim(TestClaimIds.Of("c100"), out var found));
        Assert.Equal(99, found);
    }
}

using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Core.Tests.Matching;

/// <summary>Host claims with subdomains (DESIGN.md 6): they reach every name under the host, and only those.</summary>
public sealed class HostClaimTests
{
    private static readonly Usage No = new(Preference.No, Preference.No, Preference.No, Preference.No, Preference.No);

    [Theory]
    [InlineData("shop.example1", "https://www.shop.example1/a.jpg", true)] // a name ending in a digit is no IP address
    [InlineData("example1", "https://a.b.example1/a.jpg", true)]
    [InlineData("shop.example1", "https://shop.example1/a.jpg", true)]
    [InlineData("example.com", "https://evilexample.com/a.jpg", false)]
    [InlineData("0.1", "https://10.0.0.1/a.jpg", false)] // an IP address has no parent domains
    public void A_host_claim_with_subdomains_reaches_the_names_under_it(string host, string url, bool matches)
    {
        var index = new MatchingIndex();
        index.Add(new IndexedClaim(TestClaimIds.Of("host"), 1, "artist", 100, No, TrustLevel.Signed, Revoked: false,
            [new Subject(SubjectKinds.Host, host, IncludeSubdomains: true)]));
        Assert.True(UrlCanonicalizer.TryCanonicalize(url, out var canonical, out _));

        var decision = index.Lookup(canonical, null, TrustLevel.Domain, []);

        Assert.Equal(matches ? Permission.Disallow : Permission.Unknown, decision.TrainAi);
    }
}

using ConsentRegistry.Api.Verification;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Api.Tests.Verification;

public sealed class DomainScopeTests
{
    private static readonly HashSet<string> Verified = new(StringComparer.Ordinal) { "artist.example", "xn--bcher-kva.example" };

    private static Subject S(string kind, string value, bool subdomains = false)
    {
        Assert.True(Subject.TryCreate(kind, value, kind == SubjectKinds.Host ? subdomains : null, out var subject, out var error), error);
        return subject!;
    }

    [Fact]
    public void A_claim_whose_every_subject_is_on_a_verified_host_qualifies() =>
        Assert.True(DomainScope.Qualifies(
            [S("url", "https://artist.example/a.jpg"), S("url-prefix", "http://bücher.example/art/"), S("host", "ARTIST.example")],
            Verified));

    [Theory]
    [InlineData("sha256")]
    [InlineData("pdq")]
    public void A_hash_subject_disqualifies_a_claim_even_beside_a_url_on_a_verified_host(string kind) =>
        // A hash names an image wherever it is copied; a throwaway verified domain must not vouch for it.
        Assert.False(DomainScope.Qualifies([S("url", "https://artist.example/a.jpg"), S(kind, new string('a', 64))], Verified));

    [Fact]
    public void An_embedding_subject_disqualifies_a_claim_even_beside_a_url_on_a_verified_host() =>
        // A vector, like a hash, names an image wherever it is copied (only the kind is judged, so any vector will do).
        Assert.False(DomainScope.Qualifies([S("url", "https://artist.example/a.jpg"), new Subject(SubjectKinds.Embedding, "some-model AAAA")], Verified));

    [Fact]
    public void One_subject_on_another_host_disqualifies_the_claim() =>
        Assert.False(DomainScope.Qualifies([S("url", "https://artist.example/a.jpg"), S("url", "https://other.example/b.jpg")], Verified));

    [Fact]
    public void Hash_only_claims_do_not_qualify() =>
        Assert.False(DomainScope.Qualifies([S("sha256", new string('b', 64))], Verified));

    [Fact]
    public void Subdomains_explicit_ports_and_include_subdomains_do_not_qualify()
    {
        Assert.False(DomainScope.Qualifies([S("url", "https://cdn.artist.example/a.jpg")], Verified));
        Assert.False(DomainScope.Qualifies([S("url", "https://artist.example:8443/a.jpg")], Verified));
        Assert.False(DomainScope.Qualifies([S("host", "artist.example", subdomains: true)], Verified));
        Assert.True(DomainScope.Qualifies([S("url", "https://artist.example:443/a.jpg")], Verified));
    }
}

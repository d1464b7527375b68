using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Core.Tests.Matching;

/// <summary>
/// Derived fingerprints in the index: they match like the claim's own subjects, name the URL they
/// came from, follow the claim's revocation and trust, and a newer set for a URL replaces the older.
/// </summary>
public sealed class DerivedFingerprintTests
{
    private const string Url = "https://artist.example/a.jpg";
    private static readonly string FirstSha = new('1', 64);
    private static readonly string SecondSha = new('2', 64);
    private static readonly Usage No = new(Preference.No, Preference.No, Preference.No, Preference.No, Preference.No);
    private static readonly Usage Yes = new(Preference.Yes, Preference.Yes, Preference.Yes, Preference.Yes, Preference.Yes);

    [Fact]
    public void A_derived_set_matches_as_its_claim_and_names_its_url()
    {
        var index = new MatchingIndex();
        index.Add(Claim("c", 1, No));
        var pdq = new PdqHash(0x0123456789abcdef, 0xfedcba9876543210, 0x0f0f0f0f0f0f0f0f, 0x1234123412341234);

        Assert.True(index.AddDerived(new DerivedFingerprints(TestClaimIds.Of("c"), Url, 2, [new(SubjectKinds.Sha256, FirstSha), new(SubjectKinds.Pdq, pdq.ToHex())])));

        var matches = new List<Match>();
        Assert.Equal(Permission.Disallow, index.Lookup(null, FirstSha, TrustLevel.Domain, matches).TrainAi);
        var match = Assert.Single(matches);
        Assert.Equal(("c", MatchKind.Sha256, Url), (TestClaimIds.Name(index.Claim(match.Claim).Id), match.By, index.DerivedFrom(match.Claim)));
        // 0x...cdef against 0x...cde8: three bits apart.
        Assert.Equal(Permission.Disallow, index.Lookup(null, null, TrustLevel.Domain, matches, pdq: new PdqHash(0x0123456789abcde8, 0xfedcba9876543210, 0x0f0f0f0f0f0f0f0f, 0x1234123412341234), pdqMaxDistance: 31).TrainAi);
        Assert.Equal((MatchKind.Pdq, 3), (Assert.Single(matches).By, matches[0].Distance));
        Assert.Equal(2, index.AppliedSeq);
        Assert.Equal((1, 3), (index.ClaimCount - index.DerivedEntryCount, index.SubjectCount));
    }

    [Fact]
    public void A_newer_set_for_the_same_url_replaces_the_older_and_an_old_one_applied_late_changes_nothing()
    {
        var index = new MatchingIndex();
        index.Add(Claim("c", 1, No));
        index.AddDerived(new DerivedFingerprints(TestClaimIds.Of("c"), Url, 2, [new(SubjectKinds.Sha256, FirstSha)]));
        index.AddDerived(new DerivedFingerprints(TestClaimIds.Of("c"), Url, 3, [new(SubjectKinds.Sha256, SecondSha)]));
        index.AddDerived(new DerivedFingerprints(TestClaimIds.Of("c"), Url, 2, [new(SubjectKinds.Sha256, FirstSha)]));

        var matches = new List<Match>();
        Assert.Equal(Permission.Unknown, index.Lookup(null, FirstSha, TrustLevel.Domain, matches).TrainAi);
        Assert.Equal(Permission.Disallow, index.Lookup(null, SecondSha, TrustLevel.Domain, matches).TrainAi);
        Assert.Single(matches);
    }

    [Fact]
    public void Revoking_the_claim_or_raising_its_trust_reaches_its_derived_sets()
    {
        var index = new MatchingIndex();
        index.Add(Claim("consent", 1, Yes));
        index.AddDerived(new DerivedFingerprints(TestClaimIds.Of("consent"), Url, 2, [new(SubjectKinds.Sha256, FirstSha)]));
        var matches = new List<Match>();

        Assert.Equal(Permission.Unknown, index.Lookup(null, FirstSha, TrustLevel.Domain, matches).TrainAi); // a signed "y" is not counted
        index.SetTrust(TestClaimIds.Of("consent"), TrustLevel.Domain, 3);
        Assert.Equal(Permission.Allow, index.Lookup(Canonical(Url), null, TrustLevel.Domain, matches).TrainAi); // the claimed URL: its host vouches for it
        Assert.Equal(Permission.Unknown, index.Lookup(null, FirstSha, TrustLevel.Domain, matches).TrainAi); // its picture elsewhere: no host vouches for a hash
        Assert.Equal(Permission.Allow, index.Lookup(null, FirstSha, TrustLevel.Signed, matches).TrainAi); // counted as signed
        index.SetTrust(TestClaimIds.Of("consent"), TrustLevel.Reviewed, 4);
        Assert.Equal(Permission.Allow, index.Lookup(null, FirstSha, TrustLevel.Domain, matches).TrainAi); // an operator's review covers it
        index.Revoke(TestClaimIds.Of("consent"), 5);
        Assert.Equal(Permission.Unknown, index.Lookup(null, FirstSha, TrustLevel.Domain, matches).TrainAi);
        Assert.Empty(matches);
    }

    [Fact]
    public void A_set_derived_from_a_domain_verified_consent_counts_as_signed()
    {
        var index = new MatchingIndex();
        index.Add(Claim("consent", 1, Yes) with { Trust = TrustLevel.Domain });
        index.AddDerived(new DerivedFingerprints(TestClaimIds.Of("consent"), Url, 2, [new(SubjectKinds.Sha256, FirstSha)]));
        var matches = new List<Match>();

        Assert.Equal(Permission.Allow, index.Lookup(Canonical(Url), null, TrustLevel.Domain, matches).TrainAi);
        Assert.Equal(Permission.Unknown, index.Lookup(null, FirstSha, TrustLevel.Domain, matches).TrainAi);
        Assert.Equal(Permission.Allow, index.Lookup(null, FirstSha, TrustLevel.Signed, matches).TrainAi);
        Assert.Equal(TrustLevel.Signed, index.Claim(Assert.Single(matches).Claim).Trust); // what its match says
    }

    [Fact]
    public void A_set_for_a_claim_the_index_does_not_hold_is_not_applied_but_its_seq_is()
    {
        var index = new MatchingIndex();
        Assert.False(index.AddDerived(new DerivedFingerprints(TestClaimIds.Of("missing"), Url, 5, [new(SubjectKinds.Sha256, FirstSha)])));
        Assert.Equal(5, index.AppliedSeq);
        Assert.Equal(0, index.ClaimCount);
    }

    [Fact]
    public void Mid_pass_over_the_log_the_applied_seq_stays_until_the_pass_ends()
    {
        var index = new MatchingIndex();
        index.Add(Claim("first", 1, No));
        index.BeginLogPass();
        index.Add(Claim("second", 2, No));
        index.AddDerived(new DerivedFingerprints(TestClaimIds.Of("second"), Url, 3, [new(SubjectKinds.Sha256, FirstSha)]));
        index.Revoke(TestClaimIds.Of("first"), 4);
        Assert.Equal(1, index.AppliedSeq); // claims in, not everything up to 4 necessarily: no seq is reported that the index does not fully reflect

        index.EndLogPass(4);
        Assert.Equal(4, index.AppliedSeq);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void A_hash_both_claimed_and_derived_by_one_claim_is_answered_by_the_claims_own_subject_wherever_the_postings_sit(bool compacted, bool hot)
    {
        // The derived set carries its claim's iat and seq: neither is newer, and the two must not be
        // told apart by the order the key table returns them in (the tail newest first, a segment
        // oldest first) or by the order a hot key was offered them.
        var index = new MatchingIndex(hotKeyPostings: hot ? 2 : int.MaxValue);
        index.Add(Claim("c", 1, No) with { Subjects = [new Subject(SubjectKinds.Url, Url), new Subject(SubjectKinds.Sha256, FirstSha)] });
        index.AddDerived(new DerivedFingerprints(TestClaimIds.Of("c"), Url, 2, [new(SubjectKinds.Sha256, FirstSha)]));
        if (hot)
        {
            index.Add(Claim("other", 3, No) with { Party = "someone else", Subjects = [new Subject(SubjectKinds.Sha256, FirstSha)] });
        }

        if (compacted)
        {
            index.Compact();
        }

        var matches = new List<Match>();
        Assert.Equal(Permission.Disallow, index.Lookup(null, FirstSha, TrustLevel.Signed, matches).TrainAi);

        var own = matches.Where(m => TestClaimIds.Name(index.Claim(m.Claim).Id) == "c").ToList();
        Assert.Null(index.DerivedFrom(Assert.Single(own).Claim));
        Assert.Equal(hot, index.HotKeyCount > 0);
    }

    private static ConsentRegistry.Core.Urls.CanonicalUrl? Canonical(string url) =>
        ConsentRegistry.Core.Urls.UrlCanonicalizer.TryCanonicalize(url, out var canonical, out _) ? canonical : throw new ArgumentException(url);

    private static IndexedClaim Claim(string id, long seq, Usage usage) =>
        new(TestClaimIds.Of(id), seq, "artist", 100, usage, TrustLevel.Signed, Revoked: false, [new Subject(SubjectKinds.Url, Url)]);
}

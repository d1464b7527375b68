using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Core.Tests.Matching;

/// <summary>
/// A run of lookups that asks for the cache lines of the lookups ahead (<see cref="MatchingIndex.PrefetchAhead"/>)
/// answers what the registered data says, and as lookups one by one: over segments of several sizes,
/// the tail, hosts and their parent domains, URLs not registered and items without a URL.
/// </summary>
public sealed class PrefetchedLookupTests
{
    private static readonly Usage No = new(Preference.No, Preference.No, Preference.No, Preference.No, Preference.No);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Lookups_in_runs_with_prefetching_answer_what_was_registered(bool compacted)
    {
        var index = new MatchingIndex();
        var seq = 0;
        for (var claim = 0; claim < 30; claim++)
        {
            // 30 claims of 700 URLs: the URL table's tail turns into segments of several sizes.
            var subjects = Enumerable.Range(0, 700).Select(i => new Subject(SubjectKinds.Url, Registered(claim, i), false)).ToList();
            subjects.Add(new Subject(SubjectKinds.Host, $"host{claim}.example", IncludeSubdomains: claim % 2 == 0));
            seq++;
            index.Add(new IndexedClaim(TestClaimIds.Of($"c{claim}"), seq, $"party{claim % 4}", 1_000 + seq, No, TrustLevel.Signed, false, subjects));
        }

        if (compacted)
        {
            index.Compact();
        }

        var random = new Random(5);
        var probes = new UrlProbe[777];
        var expected = new (Permission TrainAi, string Claim, MatchKind? By, CanonicalUrl? Url)[probes.Length];
        for (var i = 0; i < probes.Length; i++)
        {
            var claim = random.Next(30);
            // What the data says, not what the index answers: a registered URL, an unregistered one,
            // a subdomain (matched only where the host claim includes subdomains), the host itself, no URL.
            var (url, by) = random.Next(5) switch
            {
                0 => (Registered(claim, random.Next(700)), MatchKind.Url),
                1 => ($"https://cdn{claim}.example/other/{i}.jpg", (MatchKind?)null),
                2 => ($"https://www.host{claim}.example/any/{i}.png", claim % 2 == 0 ? MatchKind.Host : null),
                3 => ($"https://host{claim}.example/", MatchKind.Host),
                _ => (null, null),
            };
            CanonicalUrl? canonical = url is null ? null : Canonical(url);
            probes[i] = canonical is { } c ? new UrlProbe(c) : default;
            expected[i] = (by is null ? Permission.Unknown : Permission.Disallow, TestClaimIds.Of($"c{claim}"), by, canonical);
        }

        var matches = new List<Match>();
        for (var i = 0; i < probes.Length; i++)
        {
            index.PrefetchAhead(probes, i);
            var decision = index.Lookup(probes[i], null, TrustLevel.Signed, matches, out _);
            Assert.Equal(expected[i].TrainAi, decision.TrainAi);
            Assert.Equal(expected[i].By is { } by ? [(expected[i].Claim, by)] : [], matches.Select(m => (index.Claim(m.Claim).Id, m.By)));

            // And lookups one by one agree.
            Assert.Equal(decision.TrainAi, index.Lookup(expected[i].Url, null, TrustLevel.Signed, new List<Match>()).TrainAi);
        }
    }

    private static string Registered(int claim, int i) => $"https://cdn{claim}.example/works/{i}/image.jpg";

    private static CanonicalUrl Canonical(string url) =>
        UrlCanonicalizer.TryCanonicalize(url, out var canonical, out _) ? canonical : throw new ArgumentException(url);
}

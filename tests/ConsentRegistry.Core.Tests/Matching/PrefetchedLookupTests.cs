using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Core.Tests.Matching;

/// <summary>
/// A run of lookups that asks for the cache lines of the lookups ahead (<see cref="MatchingIndex.PrefetchAhead"/>)
/// answers exactly as lookups one by one: over segments of every size, the tail, hosts with their
/// parents, URLs not registered and items without a URL.
/// </summary>
public sealed class PrefetchedLookupTests
{
    private static readonly Usage No = new(Preference.No, Preference.No, Preference.No, Preference.No, Preference.No);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Lookups_in_runs_with_prefetching_answer_as_lookups_one_by_one(bool compacted)
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
        var expected = new (Decision Decision, string Matches)[probes.Length];
        var matches = new List<Match>();
        for (var i = 0; i < probes.Length; i++)
        {
            var url = random.Next(5) switch
            {
                0 => Registered(random.Next(30), random.Next(700)),
                1 => $"https://cdn{random.Next(30)}.example/other/{i}.jpg",
                2 => $"https://www.host{random.Next(30)}.example/any/{i}.png", // a parent domain's claim
                3 => $"https://host{random.Next(30)}.example/",
                _ => null, // an item looked up by hash only
            };
            CanonicalUrl? canonical = url is null ? null : Canonical(url);
            probes[i] = canonical is { } c ? new UrlProbe(c) : default;
            var decision = index.Lookup(canonical, null, TrustLevel.Signed, matches, out var more);
            expected[i] = (decision, Describe(matches, more));
        }

        var found = 0;
        for (var i = 0; i < probes.Length; i++)
        {
            index.PrefetchAhead(probes, i);
            var decision = index.Lookup(probes[i], null, TrustLevel.Signed, matches, out var more);
            Assert.Equal(expected[i].Decision.TrainAi, decision.TrainAi);
            Assert.Equal(expected[i].Matches, Describe(matches, more));
            found += matches.Count > 0 ? 1 : 0;
        }

        Assert.InRange(found, 300, 700); // registered URLs and host claims were among them
    }

    private static string Registered(int claim, int i) => $"https://cdn{claim}.example/works/{i}/image.jpg";

    private static string Describe(List<Match> matches, int more) =>
        string.Join(",", matches.Select(m => $"{m.Claim}/{m.By}")) + $"+{more}";

    private static CanonicalUrl Canonical(string url) =>
        UrlCanonicalizer.TryCanonicalize(url, out var canonical, out _) ? canonical : throw new ArgumentException(url);
}

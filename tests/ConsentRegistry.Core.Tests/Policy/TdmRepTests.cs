using System.Text;
using System.Text.Json;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Policy;
using static ConsentRegistry.Core.Tests.Policy.PolicyTestClaims;

namespace ConsentRegistry.Core.Tests.Policy;

public sealed class TdmRepTests
{
    private const string Host = "artist.example";

    private static readonly Usage TdmNo = new Usage(Preference.No, Preference.Unset, Preference.Unset, Preference.Unset, Preference.Unset).WithHierarchyApplied();

    private static List<(string Location, int Reservation, string? Policy)> Entries(byte[] json) =>
        JsonDocument.Parse(json).RootElement.EnumerateArray()
            .Select(e => (e.GetProperty("location").GetString()!, e.GetProperty("tdm-reservation").GetInt32(),
                e.TryGetProperty("tdm-policy", out var p) ? p.GetString() : null))
            .ToList();

    [Fact]
    public void Exact_urls_end_in_dollar_and_come_before_a_prefix_of_the_same_length_longest_location_first()
    {
        var rules = HostPolicy.Resolve(Host,
        [
            Claim(1, TdmNo, ("url", "https://artist.example/ab"), ("url-prefix", "https://artist.example/a/"), ("url", "https://artist.example/a/b/c/long-name.jpg")),
            Claim(2, AllYes, BothSchemes(("url-prefix", "https://artist.example/ab"), ("url-prefix", "https://artist.example/a/b/"))),
        ]);

        var entries = Entries(TdmRep.Render(rules));

        // /a/b/ stays reserved: the "n" on /a/ wins over the consent, so neither it nor the URL under it needs an entry.
        Assert.Equal([("/ab$", 1), ("/a/*", 1), ("/ab*", 0)], entries.Select(e => (e.Location, e.Reservation)));
    }

    [Fact]
    public void The_tdm_policy_is_written_only_where_tdm_is_reserved()
    {
        var reserving = Claim(1, TdmNo, ("url-prefix", "https://artist.example/p/")) with { Policy = "https://artist.example/licence" };
        var consent = Claim(2, AllYes, BothSchemes(("url-prefix", "https://artist.example/q/"))) with { Policy = "https://artist.example/terms" };

        var entries = Entries(TdmRep.Render(HostPolicy.Resolve(Host, [reserving, consent])));

        Assert.Equal([("/p/*", 1, "https://artist.example/licence"), ("/q/*", 0, null)], entries);
        Assert.Equal([("/*", 0, null)], Entries(TdmRep.Render(HostPolicy.Resolve(Host, [Claim(3, AllYes, ("host", Host)) with { Policy = "https://x.example/terms" }]))));
    }

    [Fact]
    public void A_reserved_path_with_star_or_dollar_is_also_written_literally_so_readers_that_do_not_encode_match_it()
    {
        var entries = Entries(TdmRep.Render(HostPolicy.Resolve(Host, [Claim(1, TdmNo, ("url", "https://artist.example/one*star$.jpg"))])));

        Assert.Equal(["/one%2Astar%24.jpg$", "/one*star$.jpg$"], entries.Select(e => e.Location));
    }

    [Fact]
    public void A_reserved_path_with_a_stray_percent_is_also_written_with_the_percent_as_it_is()
    {
        var entries = Entries(TdmRep.Render(HostPolicy.Resolve(Host, [Claim(1, TdmNo, ("url-prefix", "https://artist.example/sale/50%off/"))])));

        Assert.Equal(["/sale/50%25off/*", "/sale/50%off/*"], entries.Select(e => e.Location));
    }

    [Fact]
    public void One_location_written_both_reserved_and_not_lists_the_reservation_first()
    {
        // A consent on /a/ and an opt-out on the prefix "/a/*" (a literal star): the opt-out's literal
        // form is the consent's location too. A reader taking the first match must get the reservation.
        var entries = Entries(TdmRep.Render(HostPolicy.Resolve(Host,
        [
            Claim(1, AllYes, BothSchemes(("url-prefix", "https://artist.example/a/"))),
            Claim(2, TdmNo, ("url-prefix", "https://artist.example/a/*")),
        ])));

        Assert.Equal([1, 0], entries.Where(e => e.Location == "/a/*").Select(e => e.Reservation));
    }

    [Fact]
    public void Ten_thousand_long_prefixes_stay_under_500_KiB_by_merging_and_every_reserved_path_is_still_covered()
    {
        var subjects = Enumerable.Range(0, 10_000)
            .Select(i => ("url-prefix", $"https://artist.example/galleries/{i % 40}/artists-with-long-names/{i}/collection-of-works/"))
            .ToArray();

        var bytes = TdmRep.Render(HostPolicy.Resolve(Host, [Claim(1, TdmNo, subjects)]));
        var entries = Entries(bytes);

        Assert.True(bytes.Length <= TdmRep.MaxBytes, $"{bytes.Length} bytes");
        Assert.InRange(entries.Count, 1, 9_999);
        Assert.All(entries, e => Assert.Equal(1, e.Reservation));
        Assert.All(subjects, s => Assert.Contains(entries, e => s.Item2["https://artist.example".Length..].StartsWith(e.Location.TrimEnd('*'), StringComparison.Ordinal)));
        Assert.Equal(Encoding.UTF8.GetString(bytes), Encoding.UTF8.GetString(TdmRep.Render(HostPolicy.Resolve(Host, [Claim(1, TdmNo, subjects)]))));
    }
}

using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Policy;
using static ConsentRegistry.Core.Tests.Policy.PolicyTestClaims;

namespace ConsentRegistry.Core.Tests.Policy;

public sealed class HostPolicyTests
{
    private const string Host = "artist.example";

    [Fact]
    public void A_longer_location_carries_what_its_shorter_locations_say_as_well()
    {
        var rules = HostPolicy.Resolve(Host,
        [
            Claim(1, TrainAiNo, ("url-prefix", "https://artist.example/a/")),
            Claim(2, SearchYes, BothSchemes(("url-prefix", "https://artist.example/a/b/"))),
            Claim(3, SearchYes, BothSchemes(("url", "https://artist.example/a/b/c.jpg"))),
        ]);

        Assert.Equal(["/a/", "/a/b/", "/a/b/c.jpg"], rules.Select(r => r.Path));
        Assert.All(rules, r => Assert.Equal(Permission.Disallow, r.Decision.TrainAi));
        Assert.Equal(Permission.Allow, rules[1].Decision.Search);
        Assert.Equal(Permission.Unknown, rules[1].Inherited.Search);
        Assert.Equal(rules[1].Decision, rules[2].Inherited);
    }

    [Fact]
    public void The_latest_claim_of_a_party_on_a_subject_wins_and_another_partys_opt_out_still_counts()
    {
        var subject = BothSchemes(("url-prefix", "https://artist.example/p/"));

        var superseded = HostPolicy.Resolve(Host, [Claim(1, 100, TrainAiNo, true, subject), Claim(1, 200, TrainAiYes, true, subject)]);
        var otherParty = HostPolicy.Resolve(Host, [Claim(1, 100, TrainAiNo, true, subject), Claim(2, 200, TrainAiYes, true, subject)]);

        Assert.Equal(Permission.Allow, Assert.Single(superseded).Decision.TrainAi);
        Assert.Equal(Permission.Disallow, Assert.Single(otherParty).Decision.TrainAi);
    }

    [Fact]
    public void A_consent_below_the_trust_for_grants_does_not_count()
    {
        var rules = HostPolicy.Resolve(Host, [Claim(1, 100, TrainAiYes, counted: false, ("host", Host))]);

        Assert.Equal(Decision.Unknown, Assert.Single(rules).Decision);
    }

    [Fact]
    public void Parent_hosts_count_only_with_subdomains_and_other_hosts_and_ports_not_at_all()
    {
        var claims = new[]
        {
            Claim(1, TrainAiNo, ("host", "*.example")),
            Claim(2, TrainAiNo, ("host", "artist.example")),
            Claim(3, TrainAiNo, ("url", "https://artist.example:8443/x.jpg"), ("url", "https://www.artist.example/y.jpg"), ("url-prefix", "http://artist.example/z/")),
        };

        var www = HostPolicy.Resolve("www.artist.example", claims);
        var apex = HostPolicy.Resolve("artist.example", claims);

        Assert.Equal([(RuleKind.Host, "/"), (RuleKind.Exact, "/y.jpg")], www.Select(r => (r.Kind, r.Path)));
        Assert.Equal([(RuleKind.Host, "/"), (RuleKind.Prefix, "/z/")], apex.Select(r => (r.Kind, r.Path)));
        Assert.False(HostPolicy.TryLocate("artist.example", new Subject("host", "www.artist.example", true), out _, out _, out _));
        Assert.False(HostPolicy.TryLocate("badartist.example", new Subject("host", "artist.example", true), out _, out _, out _));
    }

    [Fact]
    public void A_url_prefix_of_the_root_is_the_host_location_so_the_file_has_one_rule_for_it()
    {
        var claims = new[]
        {
            Claim(1, TrainAiNo, ("host", Host)),
            Claim(2, AllYes, BothSchemes(("url-prefix", "https://artist.example/"))),
        };

        var rules = HostPolicy.Resolve(Host, claims);
        var robots = Robots(Host, claims);
        var tdmRep = System.Text.Encoding.UTF8.GetString(TdmRep.Render(rules));

        var rule = Assert.Single(rules);
        Assert.Equal((RuleKind.Host, "/"), (rule.Kind, rule.Path));
        Assert.Equal(Permission.Disallow, rule.Decision.TrainAi); // "n" wins over the other claim's "y"
        Assert.Single(Rules(robots, "Content-Usage"));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(tdmRep, "\"location\""));
    }

    [Fact]
    public void A_consent_counts_in_the_file_only_where_both_schemes_allow_while_an_opt_out_under_either_scheme_counts()
    {
        var rules = HostPolicy.Resolve(Host,
        [
            Claim(1, AllYes, ("url-prefix", "http://artist.example/x/")),
            Claim(2, AllYes, ("url-prefix", "http://artist.example/both/"), ("url-prefix", "https://artist.example/both/")),
            Claim(3, TrainAiNo, ("url-prefix", "http://artist.example/old/")),
        ]);

        var byPath = rules.ToDictionary(r => r.Path);
        Assert.Equal(Decision.Unknown, byPath["/x/"].Decision); // the https URL's lookup says unknown
        Assert.Equal(Permission.Allow, byPath["/both/"].Decision.TrainAi);
        Assert.Equal(Permission.Allow, byPath["/both/"].Decision.Search);
        Assert.Equal(Permission.Disallow, byPath["/old/"].Decision.TrainAi);
        Assert.DoesNotContain("/x/", Robots(Host, Claim(1, AllYes, ("url-prefix", "http://artist.example/x/"))));
    }

    [Fact]
    public void The_tdm_policy_is_the_latest_reserving_claims_whatever_order_the_claims_come_in()
    {
        var tdmNo = new Usage(Preference.No, Preference.Unset, Preference.Unset, Preference.Unset, Preference.Unset).WithHierarchyApplied();
        var older = Claim(1, tdmNo, ("url-prefix", "https://artist.example/p/")) with { Policy = "https://artist.example/old-licence" };
        var newer = Claim(2, tdmNo, ("url-prefix", "https://artist.example/p/")) with { Policy = "https://artist.example/new-licence" };
        var consent = Claim(3, AllYes, ("url-prefix", "https://artist.example/p/")) with { Policy = "https://artist.example/consent-terms" };

        var forwards = HostPolicy.Resolve(Host, [older, newer, consent]);
        var backwards = HostPolicy.Resolve(Host, [consent, newer, older]);

        Assert.Equal("https://artist.example/new-licence", Assert.Single(forwards).TdmPolicy);
        Assert.Equal(forwards, backwards);
    }
}

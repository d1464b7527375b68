using System.Text;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Policy;
using static ConsentRegistry.Core.Tests.Policy.PolicyTestClaims;

namespace ConsentRegistry.Core.Tests.Policy;

public sealed class RobotsTxtTests
{
    private const string Host = "artist.example";

    [Fact]
    public void Every_AI_crawler_token_is_named_and_a_host_without_claims_disallows_nothing()
    {
        var robots = Robots(Host);

        Assert.Equal(AiCrawlers.All.Select(c => "User-agent: " + c.Token).Append("User-agent: *"), Rules(robots, "User-agent"));
        Assert.Equal(["Disallow:"], Rules(robots, "Disallow"));
        Assert.Empty(Rules(robots, "Content-Usage"));
    }

    [Fact]
    public void The_AI_group_names_the_crawlers_the_design_and_the_issue_require()
    {
        var robots = Robots(Host, Claim(1, TrainAiNo, ("host", Host)));
        var aiGroup = robots[..robots.IndexOf("Disallow: /\n", StringComparison.Ordinal)];

        Assert.All(
            ["GPTBot", "CCBot", "Google-Extended", "ClaudeBot", "Applebot-Extended", "meta-externalagent", "img2dataset", "PerplexityBot"],
            token => Assert.Contains("User-agent: " + token + "\n", aiGroup));
    }

    [Fact]
    public void Exact_urls_end_in_dollar_and_paths_under_a_disallowed_prefix_are_not_repeated()
    {
        var robots = Robots(Host,
            Claim(1, TrainAiNo, ("url", "https://artist.example/one.jpg?w=1"), ("url-prefix", "https://artist.example/a/"), ("url", "https://artist.example/a/two.jpg")),
            Claim(2, SearchYes, BothSchemes(("url-prefix", "https://artist.example/blog/"))));

        Assert.Equal(["Disallow: /a/", "Disallow: /one.jpg?w=1$"], Rules(robots, "Disallow"));
        Assert.Equal(
            ["Content-Usage: /a/ train-ai=n, train-genai=n", "Content-Usage: /blog/ search=y", "Content-Usage: /one.jpg?w=1$ train-ai=n, train-genai=n"],
            Rules(robots, "Content-Usage"));
    }

    [Fact]
    public void The_AI_crawlers_group_carries_the_content_usage_lines_too_and_a_generative_training_opt_out_disallows()
    {
        var robots = Robots(Host,
            Claim(1, new Usage(Preference.Unset, Preference.Unset, Preference.No, Preference.Unset, Preference.Unset), ("url-prefix", "https://artist.example/art/")),
            Claim(2, new Usage(Preference.Unset, Preference.Unset, Preference.Unset, Preference.No, Preference.Unset), ("url-prefix", "https://artist.example/notes/")));

        // A crawler named in a group reads that group only (RFC 9309 2.2.1), not the * group.
        var aiGroup = AiGroup(robots);
        Assert.Equal(["Disallow: /art/"], aiGroup.Where(l => l.StartsWith("Disallow:", StringComparison.Ordinal)));
        Assert.Equal(["Content-Usage: /art/ train-genai=n", "Content-Usage: /notes/ ai-use=n"], aiGroup.Where(l => l.StartsWith("Content-Usage:", StringComparison.Ordinal)));
        Assert.Equal(["Content-Usage: /art/ train-genai=n", "Content-Usage: /notes/ ai-use=n"], Rules(robots, "Content-Usage"));
    }

    [Theory]
    [InlineData("https://artist.example/a\nUser-agent: *\nDisallow: /", "/a%0AUser-agent:%20%2A%0ADisallow:%20/", "/a%0AUser-agent:%20*%0ADisallow:%20/")]
    [InlineData("https://artist.example/a\r\nb#c", "/a%0D%0Ab%23c", null)]
    [InlineData("https://artist.example/*$", "/%2A%24", "/*$*")]
    [InlineData("https://artist.example/caf\u00e9/\U0001F3A8", "/caf%C3%A9/%F0%9F%8E%A8", null)]
    [InlineData("https://artist.example/100%/ok%2F", "/100%25/ok%2F", "/100%/ok%2F")]
    [InlineData("https://artist.example/sale/50%off/", "/sale/50%25off/", "/sale/50%off/")]
    [InlineData("https://artist.example/[a]^b|c{d}`e\"f<g>\\h/", "/[a]^b|c{d}`e\"f<g>\\h/", null)]
    public void Paths_that_are_not_canonical_still_cannot_add_a_line_and_keep_their_punctuation(string url, string encoded, string? literal)
    {
        var robots = Robots(Host, Claim(1, TrainAiNo, ("url-prefix", url)));

        // A path with * or $ (or a stray %) gets a second, literal line: parsers that leave the URL as it is match only that one.
        Assert.Equal(literal is null ? ["Disallow: " + encoded] : ["Disallow: " + encoded, "Disallow: " + literal], Rules(robots, "Disallow"));
        Assert.All(robots.Split('\n'), line => Assert.Matches(@"^(|#.*|User-agent: [A-Za-z0-9*-]+|Disallow: [!-~]*|Content-Usage: [!-~]+ [a-z=, -]+)$", line));
    }

    [Fact]
    public void A_content_usage_line_for_a_path_with_two_forms_gets_a_literal_line_with_its_refusals_only()
    {
        // A host consent and an opt-out under a path holding a star: a parser that misses the %2A line
        // would take the host's "y"; the literal line keeps the "n" for it, and no "y" spreads to siblings.
        var robots = Robots(Host,
            Claim(1, TrainAiYes, BothSchemes(("host", Host))),
            Claim(2, new Usage(Preference.Unset, Preference.No, Preference.Unset, Preference.Unset, Preference.Yes).WithHierarchyApplied(),
                BothSchemes(("url-prefix", "https://artist.example/weird*dir/"))));

        Assert.Equal(
            ["Content-Usage: / train-ai=y, train-genai=y", "Content-Usage: /weird%2Adir/ train-ai=n, train-genai=n, search=y", "Content-Usage: /weird*dir/ train-ai=n, train-genai=n"],
            Rules(robots, "Content-Usage").Distinct());
    }

    [Fact]
    public void The_merge_note_is_written_in_ascii_whatever_the_servers_culture()
    {
        var claim = Claim(1, TrainAiNo, Enumerable.Range(0, 10_000).Select(i => ("url-prefix", $"https://artist.example/a/{i}/")).ToArray());
        var culture = System.Globalization.CultureInfo.CurrentCulture;
        try
        {
            var french = (System.Globalization.CultureInfo)System.Globalization.CultureInfo.InvariantCulture.Clone();
            french.NumberFormat.NumberGroupSeparator = "\u202F"; // as fr-FR groups digits (a clone: machines without ICU have no fr-FR)
            System.Globalization.CultureInfo.CurrentCulture = french;
            var robots = Encoding.UTF8.GetString(RobotsTxt.Render(Host, 7, HostPolicy.Resolve(Host, [claim])));

            Assert.Contains("merged into 10,000 Disallow", robots);
            Assert.True(Ascii.IsValid(robots));
        }
        finally
        {
            System.Globalization.CultureInfo.CurrentCulture = culture;
        }
    }

    [Fact]
    public void Ten_thousand_prefixes_fit_under_500_KiB_by_merging_into_shorter_prefixes_and_the_file_says_so()
    {
        var subjects = Enumerable.Range(0, 10_000)
            .Select(i => ("url-prefix", $"https://artist.example/galleries/{i % 40}/artists-with-long-names/{i}/collection-of-works/"))
            .ToArray();

        var bytes = RobotsTxt.Render(Host, 7, HostPolicy.Resolve(Host, [Claim(1, TrainAiNo, subjects)]));
        var robots = Encoding.UTF8.GetString(bytes);

        Assert.True(bytes.Length <= RobotsTxt.MaxBytes, $"{bytes.Length} bytes");
        Assert.Contains("merged into", robots);
        var disallows = Rules(robots, "Disallow");
        Assert.InRange(disallows.Length, 1, 9_999);
        Assert.All(subjects, s => Assert.Contains(disallows, d => s.Item2["https://artist.example".Length..].StartsWith(d["Disallow: ".Length..], StringComparison.Ordinal)));
    }

    [Fact]
    public void Content_usage_lines_are_merged_before_the_AI_crawlers_lose_an_exact_rule()
    {
        var claim = Claim(1, TrainAiNo, Enumerable.Range(0, 10_000).Select(i => ("url-prefix", $"https://artist.example/a/{i}/")).ToArray());

        var bytes = RobotsTxt.Render(Host, 7, HostPolicy.Resolve(Host, [claim]));
        var robots = Encoding.UTF8.GetString(bytes);

        Assert.True(bytes.Length <= RobotsTxt.MaxBytes, $"{bytes.Length} bytes");
        Assert.Equal(10_000, Rules(robots, "Disallow").Length);
        Assert.Equal(["Content-Usage: /a/ train-ai=n, train-genai=n"], Rules(robots, "Content-Usage"));
        Assert.Contains("merged into 10,000 Disallow and 1 Content-Usage lines", robots);
    }

    [Fact]
    public void Merging_stops_at_the_deepest_prefixes_that_fit()
    {
        var claim = Claim(1, TrainAiNo, Enumerable.Range(0, 200).Select(i => ("url", $"https://artist.example/x/{i % 3}/{i}.jpg")).ToArray());

        var robots = Encoding.UTF8.GetString(RobotsTxt.Render(Host, 7, HostPolicy.Resolve(Host, [claim]), maxBytes: 1_500));

        Assert.Equal(["Disallow: /x/0/", "Disallow: /x/1/", "Disallow: /x/2/"], Rules(robots, "Disallow"));
        Assert.True(Encoding.UTF8.GetByteCount(robots) <= 1_500);
    }

    [Fact]
    public void An_exact_url_ending_in_dollar_keeps_its_end_anchor_and_a_prefix_ending_in_dollar_loses_it()
    {
        var robots = Robots(Host, Claim(1, TrainAiNo, ("url", "https://artist.example/a$"), ("url-prefix", "https://artist.example/b$")));

        Assert.Equal(["Disallow: /a%24$", "Disallow: /a$$", "Disallow: /b%24", "Disallow: /b$*"], Rules(robots, "Disallow"));
    }

    [Fact]
    public void A_claimed_path_of_5000_segments_is_merged_in_a_file_under_500_KiB_that_still_covers_every_claimed_path()
    {
        var deep = "/" + string.Concat(Enumerable.Repeat("d/", 5_000));
        var subjects = Enumerable.Range(0, 100).Select(i => ("url-prefix", $"https://artist.example{deep}{i}/")).ToArray();

        var bytes = RobotsTxt.Render(Host, 7, HostPolicy.Resolve(Host, [Claim(1, TrainAiNo, subjects)]));
        var robots = Encoding.UTF8.GetString(bytes);

        Assert.True(bytes.Length <= RobotsTxt.MaxBytes, $"{bytes.Length} bytes");
        Assert.Contains("merged into", robots);
        var disallows = Rules(robots, "Disallow").Select(d => d["Disallow: ".Length..]).ToArray();
        Assert.All(subjects, s => Assert.Contains(disallows, d => s.Item2["https://artist.example".Length..].StartsWith(d, StringComparison.Ordinal)));
        Assert.Equal([deep], disallows); // the deepest prefix that fits: the 100 paths' common part
    }
}

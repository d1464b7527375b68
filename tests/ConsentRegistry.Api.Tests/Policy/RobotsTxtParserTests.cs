using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestSigner;
using static ConsentRegistry.Api.Tests.Policy.PolicyClaims;

namespace ConsentRegistry.Api.Tests.Policy;

/// <summary>
/// The registry's robots.txt, read by two parsers it did not write. The npm parser implements
/// RFC 9309 and must be right on every URL. CPython's has no <c>$</c>, so it cannot tell an
/// exact-URL rule from nothing: for those URLs the test asserts what it does answer (allowed),
/// the limitation docs/crawlers.md states; on every other URL it must be right.
/// </summary>
public sealed class RobotsTxtParserTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private static readonly string[] AiAgents = ["GPTBot", "CCBot", "ClaudeBot", "img2dataset", "Google-Extended"];
    private static readonly string[] SearchAgents = ["Googlebot", "bingbot"];

    private readonly HttpClient _client = registry.Client;

    [Fact]
    public async Task Both_parsers_keep_AI_crawlers_out_of_exactly_the_opted_out_paths_and_let_search_crawlers_in()
    {
        const string host = "parsers.policy.example";
        using var artist = new TestSigner();
        using var other = new TestSigner();
        await SubmitAsync(_client, artist, TrainAiNo, Url($"https://{host}/img/one.jpg"), Subject("url-prefix", $"https://{host}/portfolio/"));
        await SubmitAsync(_client, artist, new() { ["tdm"] = "n", ["train-ai"] = "y" }, Subject("url-prefix", $"https://{host}/mining/"));
        await SubmitAsync(_client, other, new() { ["search"] = "y" }, Subject("url-prefix", $"https://{host}/blog/"));
        await RevokeAsync(_client, other, await SubmitAsync(_client, other, TrainAiNo, Subject("url-prefix", $"https://{host}/sketches/")));
        await RevokeAsync(_client, other, await SubmitAsync(_client, other, TrainAiNo, Url($"https://{host}/old.jpg")));
        await SubmitAsync(_client, other, TrainAiNo, Url($"https://elsewhere.policy.example/portfolio/x.jpg"));
        await SubmitAsync(_client, artist, TrainAiNo, Subject("url-prefix", $"https://{host}/sale/50%off/"));

        var robots = await RobotsAsync(_client, host);

        // (path, allowed for AI crawlers under RFC 9309, what CPython answers where it differs)
        (string Path, bool Allowed, bool? Python)[] cases =
        [
            ("/img/one.jpg", false, true), // exact URL: CPython reads "$" as a literal character
            ("/img/one.jpg?size=2", true, null),
            ("/img/one.jpeg", true, null),
            ("/img/two.jpg", true, null),
            ("/portfolio/", false, null),
            ("/portfolio/2024/dragon.png?w=512", false, null),
            ("/portfolio", true, null),
            ("/mining/data.csv", false, null), // tdm disallowed drives Disallow too
            ("/blog/post.html", true, null),
            ("/sketches/x.jpg", true, null), // revoked
            ("/old.jpg", true, null), // revoked
            ("/", true, null),
            ("/sale/50%off/poster.jpg", false, null), // a stray %: robots-parser decodes %25 in a rule, not in the URL
            ("/sale/50%25off/poster.jpg", false, null), // %25 is a % once decoded: the same path to both parsers
        ];
        var checks = AiAgents.SelectMany(agent => cases.Select(c => (agent, $"https://{host}{c.Path}")))
            .Concat(SearchAgents.SelectMany(agent => cases.Select(c => (agent, $"https://{host}{c.Path}"))))
            .ToList();
        var rfc = AiAgents.SelectMany(_ => cases.Select(c => c.Allowed)).Concat(SearchAgents.SelectMany(_ => cases.Select(_ => true))).ToArray();
        var python = AiAgents.SelectMany(_ => cases.Select(c => c.Python ?? c.Allowed)).Concat(SearchAgents.SelectMany(_ => cases.Select(_ => true))).ToArray();

        Assert.Equal(Describe(checks, rfc), Describe(checks, await RobotsParsers.NpmAsync(robots, host, checks)));
        Assert.Equal(Describe(checks, python), Describe(checks, await RobotsParsers.PythonAsync(robots, host, checks)));
        Assert.Contains("Disallow: /img/one.jpg$\n", robots);
        Assert.DoesNotContain("/blog/", robots); // a consent below Registry:Trust:MinTrustForGrants does not count
    }

    [Fact]
    public async Task A_host_opt_out_with_subdomains_closes_the_subdomain_to_AI_crawlers_until_it_is_revoked()
    {
        const string host = "hostwide.policy.example";
        using var artist = new TestSigner();
        var id = await SubmitAsync(_client, artist, TrainAiNo, Host(host, includeSubdomains: true));
        await SubmitAsync(_client, artist, TrainAiNo, Host("nosub.policy.example", includeSubdomains: false));
        string[] paths = ["/", "/a.jpg", "/deep/path/b.png?x=1"];
        var checks = AiAgents.Concat(SearchAgents).SelectMany(agent => paths.Select(p => (agent, $"https://www.{host}{p}"))).ToList();
        var expected = AiAgents.SelectMany(_ => paths.Select(_ => false)).Concat(SearchAgents.SelectMany(_ => paths.Select(_ => true))).ToArray();

        var robots = await RobotsAsync(_client, "www." + host);
        var unrelated = await RobotsAsync(_client, "www.nosub.policy.example");

        Assert.Equal(Describe(checks, expected), Describe(checks, await RobotsParsers.NpmAsync(robots, "www." + host, checks)));
        Assert.Equal(Describe(checks, expected), Describe(checks, await RobotsParsers.PythonAsync(robots, "www." + host, checks)));
        Assert.Contains("Disallow: /\n", robots);
        Assert.Contains("Content-Usage: / train-ai=n, train-genai=n\n", robots);
        Assert.DoesNotContain("Disallow: /", unrelated);

        await RevokeAsync(_client, artist, id);
        var reopened = await RobotsAsync(_client, "www." + host);
        var allowed = checks.Select(_ => true).ToArray();
        Assert.Equal(Describe(checks, allowed), Describe(checks, await RobotsParsers.NpmAsync(reopened, "www." + host, checks)));
        Assert.Equal(Describe(checks, allowed), Describe(checks, await RobotsParsers.PythonAsync(reopened, "www." + host, checks)));
    }

    [Fact]
    public async Task Hostile_paths_cannot_add_lines_and_their_special_characters_match_only_literally()
    {
        const string host = "hostile.policy.example";
        using var artist = new TestSigner();
        await SubmitAsync(_client, artist, TrainAiNo,
            Subject("url-prefix", $"https://{host}/weird*dir$/"),
            Subject("url-prefix", $"https://{host}/sp ace/\u00e9/"),
            Url($"https://{host}/x%0D%0AUser-agent: *%0ADisallow: /%23"),
            Url($"https://{host}/tab\there.jpg?q=a b"));

        var robots = await RobotsAsync(_client, host);

        Assert.All(robots.Split('\n'), line => Assert.Matches(@"^(|#.*|User-agent: [A-Za-z0-9*-]+|Disallow: [!-~]*|Content-Usage: [!-~]+ [a-z=, -]+)$", line));
        Assert.Contains("Disallow: /weird%2Adir%24/\n", robots);
        Assert.Contains("Disallow: /weird*dir$/\n", robots);
        Assert.Contains("Disallow: /sp%20ace/%C3%A9/\n", robots);

        // Each URL as a page would hold it: robots-parser, like Google's robotstxt, leaves "*" and "$"
        // in it as they are, so only the literal line matches it; the encoded line is RFC 9309 2.2.3's
        // exact form. The literal line's "*" also matches siblings such as /weirdXdir$/: accepted.
        (string Url, bool Allowed)[] npm =
        [
            ($"https://{host}/weird*dir$/a.jpg", false),
            ($"https://{host}/weird%2Adir%24/a.jpg", false),
            ($"https://{host}/weirdXdir$/a.jpg", false),
            ($"https://{host}/weirdXdir/a.jpg", true),
            ($"https://{host}/weird", true),
            ($"https://{host}/sp%20ace/%C3%A9/p.png", false),
            ($"https://{host}/sp ace/\u00e9/p.png", false),
            ($"https://{host}/sp ace/e/p.png", true),
            ($"https://{host}/", true),
            ($"https://{host}/other.jpg", true),
        ];
        (string Url, bool Allowed)[] python =
        [
            ($"https://{host}/weird*dir$/a.jpg", false),
            ($"https://{host}/weird%2Adir%24/a.jpg", false),
            ($"https://{host}/weirdXdir/a.jpg", true),
            ($"https://{host}/sp ace/\u00e9/p.png", false),
            ($"https://{host}/sp ace/e/p.png", true),
            ($"https://{host}/", true),
            ($"https://{host}/other.jpg", true),
        ];
        var npmChecks = npm.Select(c => ("GPTBot", c.Url)).ToList();
        var pythonChecks = python.Select(c => ("GPTBot", c.Url)).ToList();
        Assert.Equal(Describe(npmChecks, npm.Select(c => c.Allowed).ToArray()), Describe(npmChecks, await RobotsParsers.NpmAsync(robots, host, npmChecks)));
        Assert.Equal(Describe(pythonChecks, python.Select(c => c.Allowed).ToArray()), Describe(pythonChecks, await RobotsParsers.PythonAsync(robots, host, pythonChecks)));
    }

    private static string[] Describe(List<(string Agent, string Url)> checks, bool[] answers) =>
        checks.Select((c, i) => $"{c.Agent} {c.Url} {(answers[i] ? "allowed" : "disallowed")}").ToArray();
}

using System.Text.Json;
using ConsentRegistry.Core.Urls;
using Xunit.Abstractions;

namespace ConsentRegistry.Core.Tests.Urls;

/// <summary>
/// The WHATWG URL test suite (urltestdata.json), restricted as tests/testdata/README.md says
/// to the cases the canonicalizer is for, with the registry's rules applied to the expected parts.
/// </summary>
public sealed class UrlTestDataConformanceTests(ITestOutputHelper output)
{
    private const int RelevantCasesInReadme = 448;

    /// <summary>Cases left out, by exact input and base, with the reason.</summary>
    private static readonly Dictionary<(string Input, string? Base), string> Excluded = new()
    {
        // The canonicalizer has no base URL. With a base of the same special scheme, an input
        // without "//" after the scheme is a relative reference (WHATWG "special relative or
        // authority state"), so its expected result comes from the base; on its own such an
        // input is an absolute URL whose host follows the colon.
        [("http:foo.com", "http://example.org/foo/bar")] = "relative to a same-scheme base",
        [("http::@c:29", "http://example.org/foo/bar")] = "relative to a same-scheme base",
        [("http:[61:27]/:foo", "http://example.org/foo/bar")] = "relative to a same-scheme base",
        [("http:/example.com/", "http://example.org/foo/bar")] = "relative to a same-scheme base",
        [("http:example.com/", "http://example.org/foo/bar")] = "relative to a same-scheme base",
        [("http:/", "http://example.com/")] = "relative to a same-scheme base",
        [("http:", "http://example.org/foo/bar")] = "relative to a same-scheme base",

        // Registry rule: one trailing dot of the host is dropped. These hosts end in two dots or
        // are only dots, so dropping one would leave an empty host or another trailing dot (a
        // form that would not canonicalize to itself): the canonicalizer refuses them.
        [("http://./", null)] = "host is only a dot",
        [("http://../", null)] = "host ends in an empty label",
        [("http://foo.09..", null)] = "host ends in an empty label",
    };

    [Fact]
    public void The_relevant_cases_are_the_ones_the_readme_counts()
    {
        Assert.Equal(RelevantCasesInReadme, RelevantCases().Count);
    }

    [Fact]
    public void Every_relevant_urltestdata_case_gives_the_canonical_form()
    {
        var failures = new List<string>();
        int run = 0;
        int excluded = 0;
        foreach (TestCase c in RelevantCases())
        {
            if (Excluded.ContainsKey((c.Input, c.Base)))
            {
                excluded++;
                continue;
            }

            run++;
            string? problem = Check(c);
            if (problem is not null)
            {
                failures.Add($"{UrlTestData.Show(c.Input)} (base {UrlTestData.Show(c.Base)}): {problem}");
            }
        }

        output.WriteLine($"urltestdata.json: {run} cases run, {run - failures.Count} passed, {excluded} excluded.");
        Assert.True(failures.Count == 0, $"{failures.Count} of {run} cases fail:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void The_exclusions_are_all_relevant_cases()
    {
        var relevant = RelevantCases().Select(c => (c.Input, c.Base)).ToHashSet();
        Assert.All(Excluded.Keys, key => Assert.Contains(key, relevant));
    }

    [Fact]
    public void Canonical_forms_of_the_test_inputs_canonicalize_to_themselves()
    {
        var failures = new List<string>();
        foreach (TestCase c in RelevantCases())
        {
            if (!UrlCanonicalizer.TryCanonicalize(c.Input, out CanonicalUrl first, out _))
            {
                continue;
            }

            if (!UrlCanonicalizer.TryCanonicalize(first.Value, out CanonicalUrl second, out string? error))
            {
                failures.Add($"{UrlTestData.Show(first.Value)} refused: {error}");
            }
            else if (second != first)
            {
                failures.Add($"{UrlTestData.Show(first.Value)} became {UrlTestData.Show(second.Value)}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void The_fast_path_agrees_with_the_full_parser_on_every_test_input()
    {
        var failures = new List<string>();
        int fast = 0;
        using JsonDocument doc = UrlTestData.Load(UrlTestData.UrlTestDataPath);
        foreach (JsonElement entry in doc.RootElement.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            string input = entry.GetProperty("input").GetString()!;
            foreach (string candidate in new[] { input, Canonical(input) ?? input })
            {
                if (!UrlCanonicalizer.TryCanonicalizeFast(candidate, out CanonicalUrl viaFast))
                {
                    continue;
                }

                fast++;
                bool ok = UrlCanonicalizer.TryCanonicalizeFull(candidate, out CanonicalUrl viaFull, out _);
                if (!ok || viaFull != viaFast)
                {
                    failures.Add($"{UrlTestData.Show(candidate)}: fast {UrlTestData.Show(viaFast.Value)}, full {(ok ? UrlTestData.Show(viaFull.Value) : "refused")}");
                }
            }
        }

        output.WriteLine($"{fast} inputs took the fast path.");
        Assert.True(fast > 100, "the fast path should take the canonical forms");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static string? Canonical(string input) =>
        UrlCanonicalizer.TryCanonicalize(input, out CanonicalUrl url, out _) ? url.Value : null;

    private static string? Check(TestCase c)
    {
        bool ok = UrlCanonicalizer.TryCanonicalize(c.Input, out CanonicalUrl url, out string? error);
        if (c.Failure)
        {
            return ok ? $"expected failure, got {UrlTestData.Show(url.Value)}" : null;
        }

        if (!ok)
        {
            return $"refused ({error}), expected {UrlTestData.Show(c.Href)}";
        }

        string expectedHost = c.Hostname!.ToLowerInvariant();
        if (expectedHost.EndsWith('.'))
        {
            expectedHost = expectedHost[..^1];
        }

        string expectedPath = UrlTestData.NormalizePercentEscapes(c.Pathname!);
        if (expectedPath.Length == 0)
        {
            expectedPath = "/";
        }

        string expectedSearch = c.Search is null or "" or "?" ? "" : "?" + UrlTestData.NormalizePercentEscapes(c.Search[1..]);
        string expected = c.Protocol + "//" + expectedHost + (c.Port is null or "" ? "" : ":" + c.Port) + expectedPath + expectedSearch;

        if (url.Value != expected)
        {
            return $"got {UrlTestData.Show(url.Value)}, expected {UrlTestData.Show(expected)} (href {UrlTestData.Show(c.Href)})";
        }

        string pathAndQuery = url.PathAndQuery.ToString();
        if (url.Host.ToString() != expectedHost || pathAndQuery != expectedPath + expectedSearch)
        {
            return $"offsets wrong: host {UrlTestData.Show(url.Host.ToString())}, path and query {UrlTestData.Show(pathAndQuery)}";
        }

        return null;
    }

    private static List<TestCase> RelevantCases()
    {
        using JsonDocument doc = UrlTestData.Load(UrlTestData.UrlTestDataPath);
        var cases = new List<TestCase>();
        foreach (JsonElement entry in doc.RootElement.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object)
            {
                continue; // comments
            }

            string input = entry.GetProperty("input").GetString()!;
            string? baseUrl = entry.TryGetProperty("base", out JsonElement b) && b.ValueKind == JsonValueKind.String ? b.GetString() : null;
            bool failure = entry.TryGetProperty("failure", out JsonElement f) && f.GetBoolean();
            string? protocol = Str(entry, "protocol");

            bool noBase = baseUrl is null or "about:blank";
            string trimmed = input.TrimStart(Enumerable.Range(0, 0x21).Select(i => (char)i).ToArray());
            bool absoluteHttp = trimmed.StartsWith("http:", StringComparison.OrdinalIgnoreCase)
                || trimmed.StartsWith("https:", StringComparison.OrdinalIgnoreCase);
            if (!(noBase || absoluteHttp))
            {
                continue;
            }

            if (!failure && protocol is not ("http:" or "https:"))
            {
                continue;
            }

            cases.Add(new TestCase(input, baseUrl, failure, Str(entry, "href"), protocol, Str(entry, "hostname"), Str(entry, "port"), Str(entry, "pathname"), Str(entry, "search")));
        }

        return cases;
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private sealed record TestCase(
        string Input, string? Base, bool Failure, string? Href, string? Protocol, string? Hostname, string? Port, string? Pathname, string? Search);
}

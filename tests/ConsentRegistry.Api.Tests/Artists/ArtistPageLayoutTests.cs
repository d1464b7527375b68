using System.Net;
using System.Text.RegularExpressions;
using ConsentRegistry.Api.Tests.Infrastructure;

namespace ConsentRegistry.Api.Tests.Artists;

/// <summary>The artist pages share one layout: as served, and never the raw layout or page files.</summary>
public sealed partial class ArtistPageLayoutTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    public static TheoryData<string, string?> Pages => new()
    {
        { "/", null },
        { "/key", "/assets/key-page.js" },
        { "/register", "/assets/register-page.js" },
        { "/claims", "/assets/claims-page.js" },
        { "/verify", "/assets/verify-page.js" },
    };

    [Theory]
    [MemberData(nameof(Pages))]
    public async Task Every_page_carries_the_shared_head_header_navigation_and_footer_exactly_once(string route, string? script)
    {
        var html = await registry.Client.GetStringAsync(route);

        foreach (var part in new[]
                 {
                     "<!doctype html>", "<html lang=\"en\">", "<head>", "<link rel=\"stylesheet\" href=\"/assets/artists.css\">",
                     "<a class=\"skip-link\" href=\"#main\">", "<header class=\"site-header\">", "<nav aria-label=\"Main\">",
                     "<main id=\"main\">", "<footer class=\"site-footer\">", "</html>",
                 })
        {
            Assert.Equal(1, Occurrences(html, part));
        }

        Assert.Single(Header().Matches(html));
        Assert.Single(CurrentLink().Matches(html));
        Assert.Contains($"<a href=\"{route}\" aria-current=\"page\">", html);
        var scripts = ScriptTag().Matches(html).Select(match => match.Value).ToList();
        Assert.Equal(script is null ? [] : [$"<script type=\"module\" src=\"{script}\"></script>"], scripts);
        Assert.True(html.IndexOf("<script", StringComparison.Ordinal) < html.IndexOf("</head>", StringComparison.Ordinal));
        Assert.DoesNotContain("{{", html);
        Assert.DoesNotContain("<!--", html);
    }

    [Fact]
    public async Task Every_page_has_the_same_header_and_navigation_apart_from_which_link_is_current()
    {
        var headers = new List<string>();
        foreach (var route in new[] { "/", "/key", "/register", "/claims", "/verify" })
        {
            var html = await registry.Client.GetStringAsync(route);
            headers.Add(Header().Match(html).Value.Replace(" aria-current=\"page\"", "", StringComparison.Ordinal));
        }

        Assert.All(headers, header => Assert.Contains("<a href=\"/verify\">Verify your website</a>", header));
        Assert.Single(headers.Distinct());
    }

    [Theory]
    [InlineData("/artists/_layout.html")]
    [InlineData("/_layout.html")]
    [InlineData("/_layout")]
    [InlineData("/assets/_layout.html")]
    [InlineData("/assets/..%2Fartists/_layout.html")]
    [InlineData("/artists/key.html")]
    [InlineData("/key.html")]
    [InlineData("/index.html")]
    [InlineData("/artists/index.html")]
    [InlineData("/artists/register.html")]
    [InlineData("/artists/claims.html")]
    [InlineData("/artists/verify.html")]
    [InlineData("/artists/")]
    public async Task The_layout_and_the_page_files_are_not_served_as_they_are(string path)
    {
        using var response = await registry.Client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.DoesNotContain("{{", body);
        Assert.DoesNotContain("title:", body);
        Assert.DoesNotContain("<nav", body);
    }

    [Fact]
    public async Task A_page_is_sent_again_only_when_it_changed_and_its_not_modified_answer_keeps_the_security_headers()
    {
        using var first = await registry.Client.GetAsync("/register");
        var etag = first.Headers.ETag;
        Assert.NotNull(etag);
        Assert.NotNull(first.Content.Headers.LastModified);

        using var again = new HttpRequestMessage(HttpMethod.Get, "/register");
        again.Headers.IfNoneMatch.Add(etag);
        using var notModified = await registry.Client.SendAsync(again);
        using var other = new HttpRequestMessage(HttpMethod.Get, "/claims");
        other.Headers.IfNoneMatch.Add(etag);
        using var otherPage = await registry.Client.SendAsync(other);

        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal(etag, notModified.Headers.ETag);
        Assert.Equal("DENY", string.Join(", ", notModified.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("no-cache", notModified.Headers.CacheControl?.ToString());
        Assert.Equal(HttpStatusCode.OK, otherPage.StatusCode);
        Assert.NotEqual(etag, otherPage.Headers.ETag);
        Assert.Contains("<h1>My claims</h1>", await otherPage.Content.ReadAsStringAsync());
    }

    private static int Occurrences(string text, string part) =>
        Regex.Count(text, Regex.Escape(part));

    [GeneratedRegex("<header class=\"site-header\">.*?</header>", RegexOptions.Singleline)]
    private static partial Regex Header();

    [GeneratedRegex("aria-current=\"page\"")]
    private static partial Regex CurrentLink();

    [GeneratedRegex(@"<script\b[^>]*>\s*</script>", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptTag();
}

using System.Net;
using System.Text.RegularExpressions;
using ConsentRegistry.Api.Tests.Infrastructure;

namespace ConsentRegistry.Api.Tests.Artists;

/// <summary>The artist pages and their assets as a browser receives them: HTML, scripts, styles and their security headers.</summary>
public sealed partial class ArtistPagesTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
        + "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

    public static TheoryData<string, string> Pages => new()
    {
        { "/", "Say what may be done with your images" },
        { "/key", "Your signing key" },
        { "/register", "Register works" },
        { "/claims", "My claims" },
        { "/verify", "Verify your website" },
    };

    [Theory]
    [MemberData(nameof(Pages))]
    public async Task Each_page_is_served_as_html_with_its_heading_and_the_security_headers(string route, string heading)
    {
        using var response = await registry.Client.GetAsync(route);
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
        AssertSecurityHeaders(response);
        Assert.Contains("<html lang=\"en\">", html);
        Assert.Contains("<main id=\"main\">", html);
        Assert.Contains($"<h1>{heading}</h1>", html);
        Assert.Contains("<nav aria-label=\"Main\">", html);
        foreach (var link in new[] { "Home", "Your signing key", "Register works", "My claims", "Verify your website" })
        {
            Assert.Contains($">{link}</a>", html);
        }
    }

    [Fact]
    public async Task The_verify_page_says_that_the_file_must_stay_published_and_which_claims_verification_never_raises()
    {
        var html = await registry.Client.GetStringAsync("/verify");

        Assert.Contains("<h2>Keep the file published</h2>", html);
        Assert.Contains("fetches the file again", html);
        Assert.Contains("go back to trust “signed”", html);
        Assert.Contains("<li>claims that include image files", html);
        Assert.Contains("<li>claims for a site “and its subdomains”", html);
        Assert.Contains("<li>claims with an address that names a port", html);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/key")]
    [InlineData("/register")]
    [InlineData("/claims")]
    [InlineData("/verify")]
    public async Task No_page_carries_inline_script_or_style(string route)
    {
        var html = await registry.Client.GetStringAsync(route);

        Assert.DoesNotContain("style=", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<style", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(InlineEventHandler(), html);
        foreach (Match script in ScriptTag().Matches(html))
        {
            Assert.Matches("src=\"/assets/[a-z-]+\\.js\"", script.Value);
        }
    }

    [Theory]
    [InlineData("/assets/artists.css", "text/css")]
    [InlineData("/assets/app.js", "text/javascript")]
    [InlineData("/assets/signing-key.js", "text/javascript")]
    [InlineData("/assets/key-page.js", "text/javascript")]
    [InlineData("/assets/register-page.js", "text/javascript")]
    [InlineData("/assets/claims-page.js", "text/javascript")]
    [InlineData("/assets/verify-page.js", "text/javascript")]
    public async Task Assets_are_served_with_their_content_type_cache_headers_and_the_security_headers(string path, string mediaType)
    {
        using var response = await registry.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl is { Public: true, NoCache: true }, "assets are revalidated on every load (ETag)");
        Assert.NotNull(response.Headers.ETag);
        AssertSecurityHeaders(response);
    }

    [Fact]
    public async Task An_asset_range_past_its_end_is_a_416_problem_with_the_registrys_code_and_the_security_headers()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/assets/app.js");
        request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(10_000_000, null);

        using var response = await registry.Client.SendAsync(request);

        await TestHttp.AssertProblemAsync(response, HttpStatusCode.RequestedRangeNotSatisfiable, "range-not-satisfiable");
        AssertSecurityHeaders(response);
    }

    [Theory]
    [InlineData("/KEY")]
    [InlineData("/key/")]
    [InlineData("/Key/")]
    [InlineData("/REGISTER")]
    [InlineData("/claims/")]
    [InlineData("/Verify")]
    [InlineData("/ASSETS/app.js")]
    [InlineData("/assets/app.js/")]
    public async Task Every_spelling_of_a_page_or_asset_path_that_is_served_carries_the_security_headers(string path)
    {
        using var response = await registry.Client.GetAsync(path);

        if (response.StatusCode == HttpStatusCode.OK)
        {
            AssertSecurityHeaders(response);
        }
    }

    [Theory]
    [InlineData("/KEY")]
    [InlineData("/key/")]
    public async Task The_router_serves_the_key_page_in_other_spellings_with_the_security_headers(string path)
    {
        using var response = await registry.Client.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<h1>Your signing key</h1>", html);
        AssertSecurityHeaders(response);
    }

    [Fact]
    public async Task The_api_keeps_its_own_headers_and_answers()
    {
        using var health = await registry.Client.GetAsync("/health/live");
        using var swagger = await registry.Client.GetAsync("/swagger/index.html");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.False(health.Headers.Contains("Content-Security-Policy"));
        Assert.Equal(HttpStatusCode.OK, swagger.StatusCode);
        // Swagger UI has its own policy: the pages' one plus the hash of the one style element it inserts.
        Assert.Equal(ConsentRegistry.Api.Hosting.OpenApiExtensions.SwaggerContentSecurityPolicy, Assert.Single(swagger.Headers.GetValues("Content-Security-Policy")));
    }

    [Fact]
    public async Task The_pages_are_not_part_of_the_openapi_document()
    {
        var document = await registry.Client.GetStringAsync("/swagger/v1/swagger.json");

        foreach (var route in new[] { "\"/\"", "\"/key\"", "\"/register\"", "\"/claims\"", "\"/verify\"" })
        {
            Assert.DoesNotContain(route + ":", document);
        }
    }

    private static void AssertSecurityHeaders(HttpResponseMessage response)
    {
        Assert.Equal(ContentSecurityPolicy, string.Join(", ", response.Headers.GetValues("Content-Security-Policy")));
        Assert.Equal("nosniff", string.Join(", ", response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", string.Join(", ", response.Headers.GetValues("Referrer-Policy")));
        Assert.Equal("DENY", string.Join(", ", response.Headers.GetValues("X-Frame-Options")));
    }

    [GeneratedRegex(@"\son[a-z]+\s*=", RegexOptions.IgnoreCase)]
    private static partial Regex InlineEventHandler();

    [GeneratedRegex(@"<script\b[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptTag();
}

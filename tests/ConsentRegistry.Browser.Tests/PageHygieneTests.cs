using System.Text.RegularExpressions;
using ConsentRegistry.Browser.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>
/// Every page, in the state an artist sees it after using it, on a desktop window and on a phone:
/// security headers, nothing fetched from elsewhere, a quiet console, no sideways scrolling.
/// Saves the screenshots the README shows.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class PageHygieneTests(BrowserFixture registry) : IClassFixture<BrowserFixture>
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; " +
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

    private static readonly string[] NavigationLinks = ["Home", "Your signing key", "Register works", "My claims", "Verify your website"];

    [Theory]
    [InlineData(1280, 900)]
    [InlineData(375, 740)]
    public async Task Every_page_sends_the_security_headers_loads_nothing_from_elsewhere_logs_no_errors_and_fits_the_window(int width, int height)
    {
        await using var artist = await registry.NewProfileAsync(width, height);

        await artist.GoToAsync("/");
        await CheckPageAsync(artist, "home");
        var party = await artist.CreateKeyAsync();
        await CheckPageAsync(artist, "key");
        var receipt = await artist.RegisterAsync(new Work([$"https://hygiene-{width}.example/works/river.jpg"], [Pictures.Bridge],
            "River, from the bridge", "https://creativecommons.org/licenses/by-nc/4.0/", "mailto:studio@example.org"));
        await CheckPageAsync(artist, "register");
        // A URL-only work, so that verifying the site below has a claim to raise.
        await artist.RegisterAsync(Work.Url($"https://hygiene-{width}.example/works/sea.jpg", "Sea, from the pier"));
        await artist.ClaimRowAsync(receipt.Id);
        await CheckPageAsync(artist, "claims");
        var host = $"hygiene-{width}.example";
        registry.Publish(host, party);
        await artist.GoToAsync("/verify");
        await artist.Page.Locator("#verify-host").FillAsync(host);
        await artist.Page.Locator("#verify-button").ClickAsync();
        await Expect(artist.Page.Locator("#verify-result")).ToContainTextAsync("Verified");
        await Expect(artist.Page.Locator("#verify-result")).ToContainTextAsync(new Regex(@"\b1\b"));
        await CheckPageAsync(artist, "verify");

        var documents = artist.Responses.Where(response => response.Request.ResourceType == "document").ToList();
        Assert.Equal(["/", "/key", "/register", "/claims", "/verify"], documents.Select(response => new Uri(response.Url).AbsolutePath).Distinct());
        var assets = artist.Responses.Where(response => new Uri(response.Url).AbsolutePath.StartsWith("/assets/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(assets);
        foreach (var response in documents.Concat(assets))
        {
            AssertSecurityHeaders(response);
        }

        Assert.Empty(artist.ThirdPartyRequests());
        Assert.Empty(artist.Errors);
    }

    [Fact]
    public async Task Swagger_ui_works_under_the_same_content_security_policy_with_a_quiet_console()
    {
        await using var browser = await registry.NewProfileAsync();

        var document = await browser.GoToAsync("/swagger/index.html");

        await Expect(browser.Page.Locator(".swagger-ui .info .title")).ToContainTextAsync("ConsentRegistry");
        var operation = browser.Page.Locator(".swagger-ui .opblock").First;
        await operation.Locator(".opblock-summary").First.ClickAsync();
        await Expect(operation.Locator(".opblock-body")).ToBeVisibleAsync();
        await operation.Locator(".try-out__btn").ClickAsync();
        await Expect(operation.Locator(".execute")).ToBeVisibleAsync();
        var headers = document.Headers;
        Assert.Equal(ConsentRegistry.Api.Hosting.OpenApiExtensions.SwaggerContentSecurityPolicy, headers.GetValueOrDefault("content-security-policy"));
        Assert.Equal("nosniff", headers.GetValueOrDefault("x-content-type-options"));
        Assert.Equal("no-referrer", headers.GetValueOrDefault("referrer-policy"));
        Assert.Equal("DENY", headers.GetValueOrDefault("x-frame-options"));
        Assert.Empty(browser.ThirdPartyRequests());
        Assert.True(browser.Errors.IsEmpty, string.Join("\n", browser.Errors));
    }

    /// <summary>Checks the page as it is now and saves its screenshot.</summary>
    private static async Task CheckPageAsync(ArtistBrowser artist, string name)
    {
        var page = artist.Page;
        await Expect(page.Locator("main#main")).ToHaveCountAsync(1);
        await Expect(page.Locator("h1")).ToHaveCountAsync(1);
        var nav = page.Locator("nav[aria-label=\"Main\"]");
        foreach (var link in NavigationLinks)
        {
            await Expect(nav.GetByRole(AriaRole.Link, new() { Name = link, Exact = true })).ToHaveCountAsync(1);
        }

        await Screenshots.SaveAsync(page, name);
        var width = page.ViewportSize!.Width;
        var scrollWidth = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(scrollWidth <= width, $"{name} is {scrollWidth} px wide in a {width} px window: it scrolls sideways.");
    }

    private static void AssertSecurityHeaders(IResponse response)
    {
        var headers = response.Headers;
        Assert.True(headers.TryGetValue("content-security-policy", out var csp), $"{response.Url} sends no Content-Security-Policy.");
        Assert.Equal(ContentSecurityPolicy, csp);
        Assert.Equal("nosniff", headers.GetValueOrDefault("x-content-type-options"));
        Assert.Equal("no-referrer", headers.GetValueOrDefault("referrer-policy"));
    }
}

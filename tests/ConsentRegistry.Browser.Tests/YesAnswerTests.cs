using System.Text.RegularExpressions;
using ConsentRegistry.Browser.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>
/// A "Yes" counts only on a claim that verifying a website can raise to trust "domain": the
/// register page says, before signing and on the receipt, when a claim can never be raised.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class YesAnswerTests(BrowserFixture registry) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Before_signing_the_page_says_when_a_yes_cannot_count_for_subdomains_image_files_or_a_port()
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        await artist.GoToAsync("/register");
        var page = artist.Page;
        var warning = page.Locator("#yes-warning");
        var submit = page.Locator("#submit-claim");

        await page.Locator("#site").FillAsync("yes-before.example");
        await page.Locator("#include-subdomains").CheckAsync();
        await Expect(warning).ToBeHiddenAsync(); // "No" only, preset: nothing to warn about

        await page.Locator("#use-search").SelectOptionAsync("y");

        await Expect(warning).ToBeVisibleAsync();
        await Expect(warning).ToContainTextAsync("will not count, not even once your website is verified");
        await Expect(warning).ToContainTextAsync("subdomains of yes-before.example");
        await Expect(submit).ToHaveAccessibleDescriptionAsync(new Regex("will not count"));

        await page.Locator("#include-subdomains").UncheckAsync();

        await Expect(warning).ToBeHiddenAsync();
        await Expect(submit).ToHaveAccessibleDescriptionAsync("");

        await page.Locator("#files").SetInputFilesAsync(Pictures.Bridge);

        await Expect(warning).ToBeVisibleAsync();
        await Expect(warning).ToContainTextAsync("this claim includes image files");
        await Expect(warning).ToContainTextAsync("without image files");

        await page.Locator("#files").SetInputFilesAsync(Array.Empty<string>());
        await page.Locator("#urls").FillAsync("https://yes-before.example:8443/works/a.jpg");

        await Expect(warning).ToContainTextAsync("https://yes-before.example:8443/works/a.jpg names a port");
        await Expect(warning).Not.ToContainTextAsync("image files");

        await page.Locator("#urls").FillAsync("https://yes-before.example/works/a.jpg");

        await Expect(warning).ToBeHiddenAsync();
        Assert.Empty(artist.Errors);
    }

    [Fact]
    public async Task The_receipt_promises_a_raise_only_where_verification_gives_one()
    {
        const string host = "yes-receipt.example";
        await using var artist = await registry.NewProfileAsync();
        var party = await artist.CreateKeyAsync();

        var urlOnly = await RegisterYesAsync(artist, urls: $"https://{host}/works/dawn.jpg");
        await Expect(artist.Page.Locator("#receipt-note")).ToBeVisibleAsync();
        await Expect(artist.Page.Locator("#receipt-note-never")).ToBeHiddenAsync();

        var withSubdomains = await RegisterYesAsync(artist, site: host, subdomains: true);
        await Expect(artist.Page.Locator("#receipt-note")).ToBeHiddenAsync();
        await Expect(artist.Page.Locator("#receipt-note-never")).ToContainTextAsync("will not count, not even once your website is verified");
        await Expect(artist.Page.Locator("#receipt-note-never")).ToContainTextAsync($"subdomains of {host}");

        var withFile = await RegisterYesAsync(artist, urls: $"https://{host}/works/bridge.jpg", file: Pictures.Bridge);
        await Expect(artist.Page.Locator("#receipt-note")).ToBeHiddenAsync();
        await Expect(artist.Page.Locator("#receipt-note-never")).ToContainTextAsync("this claim includes image files");

        registry.Publish(host, party);
        var verified = await registry.Api.PostAsync($"/v1/parties/{party}/domains/{host}/verify", null);
        Assert.True(verified.IsSuccessStatusCode, $"verifying {host} answered {(int)verified.StatusCode}");

        // What the receipts said is what verification did.
        Assert.Equal("domain", (await registry.Api.ClaimAsync(urlOnly)).GetProperty("trust").GetString());
        Assert.Equal("signed", (await registry.Api.ClaimAsync(withSubdomains)).GetProperty("trust").GetString());
        Assert.Equal("signed", (await registry.Api.ClaimAsync(withFile)).GetProperty("trust").GetString());
        Assert.Empty(artist.Errors);
    }

    /// <summary>Registers the works with "Search engines: Yes" and returns the claim id from the receipt.</summary>
    private static async Task<string> RegisterYesAsync(ArtistBrowser artist, string? urls = null, string? site = null, bool subdomains = false, string? file = null)
    {
        await artist.GoToAsync("/register");
        var page = artist.Page;
        await page.Locator("#urls").FillAsync(urls ?? "");
        await page.Locator("#site").FillAsync(site ?? "");
        await page.Locator("#include-subdomains").SetCheckedAsync(subdomains);
        if (file is not null)
        {
            await page.Locator("#files").SetInputFilesAsync(file);
        }

        await page.Locator("#use-search").SelectOptionAsync("y");
        await page.Locator("#submit-claim").ClickAsync();
        return (await artist.ReadReceiptAsync()).Id;
    }
}

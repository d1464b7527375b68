using ConsentRegistry.Browser.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>
/// The Site field of /register takes what the Verify page takes: people paste addresses, not host
/// names. An address with a path names a folder, not the whole site: refused, pointing to the Folder
/// field, since a claim cannot be edited once signed. The Folder field says when a prefix covers
/// more than its folder.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class RegisterSiteTests(BrowserFixture registry) : IClassFixture<BrowserFixture>
{
    [Theory]
    [InlineData("Site-Typed.example", "site-typed.example")]
    [InlineData("https://Site-Pasted.example/", "site-pasted.example")]
    public async Task A_site_typed_or_pasted_as_an_address_is_registered_as_its_host_name(string typed, string host)
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        await artist.GoToAsync("/register");

        await artist.Page.Locator("#site").FillAsync(typed);
        await artist.Page.Locator("#submit-claim").ClickAsync();

        var receipt = await artist.ReadReceiptAsync();
        var subject = Assert.Single((await registry.Api.ClaimAsync(receipt.Id)).GetProperty("subjects").EnumerateArray());
        Assert.Equal("host", subject.GetProperty("kind").GetString());
        Assert.Equal(host, subject.GetProperty("value").GetString());
        await Expect(artist.Page.Locator("#register-status")).ToBeEmptyAsync();
        Assert.Empty(artist.Errors);
    }

    [Theory]
    [InlineData("site-folder.example/portfolio", "https://site-folder.example/portfolio/")]
    [InlineData("https://site-folder.example/portfolio/", "https://site-folder.example/portfolio/")]
    public async Task A_site_with_a_path_is_refused_before_signing_pointing_to_the_folder_field(string typed, string folder)
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        await artist.GoToAsync("/register");

        await artist.Page.Locator("#site").FillAsync(typed);
        await artist.Page.Locator("#submit-claim").ClickAsync();

        await Expect(artist.Page.Locator("#register-status")).ToContainTextAsync($"use “A folder of your site”: {folder}");
        await Expect(artist.Page.Locator("#receipt")).ToBeHiddenAsync();
        Assert.DoesNotContain(artist.Requests, request => request.Contains("/v1/claims", StringComparison.Ordinal));
        Assert.Empty(artist.Errors);
    }

    [Fact]
    public async Task A_folder_not_ending_with_a_slash_is_said_to_cover_every_address_it_begins()
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        await artist.GoToAsync("/register");
        var note = artist.Page.Locator("#prefix-note");

        await artist.Page.Locator("#prefix").FillAsync("https://folder-note.example/art");
        await Expect(note).ToBeVisibleAsync();
        await Expect(note).ToContainTextAsync("End it with “/” (https://folder-note.example/art/)");

        await artist.Page.Locator("#prefix").FillAsync("https://folder-note.example/art/");
        await Expect(note).ToBeHiddenAsync();
        Assert.Empty(artist.Errors);
    }
}

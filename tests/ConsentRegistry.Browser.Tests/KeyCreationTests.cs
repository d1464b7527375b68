using ConsentRegistry.Browser.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>Creating a key never replaces one already kept in this browser: without its backup, its claims could never be revoked.</summary>
[Collection(BrowserCollection.Name)]
public sealed class KeyCreationTests(BrowserFixture registry) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Create_in_a_second_tab_opened_before_the_first_made_its_key_keeps_that_key_and_shows_it()
    {
        await using var artist = await registry.NewProfileAsync();
        var secondTab = await artist.Context.NewPageAsync();
        await secondTab.GotoAsync("/key");
        await Expect(secondTab.Locator("#create-key")).ToBeVisibleAsync();

        var party = await artist.CreateKeyAsync();
        await secondTab.Locator("#create-key").ClickAsync();

        await Expect(secondTab.Locator("#key-status")).ToContainTextAsync("This browser already has a signing key");
        await Expect(secondTab.Locator("#party-id")).ToHaveTextAsync(party);
        await Expect(secondTab.Locator("#create-key")).ToBeHiddenAsync();
        await artist.GoToAsync("/key");
        Assert.Equal(party, await artist.PartyIdAsync());
        Assert.Empty(artist.Errors);
    }
}

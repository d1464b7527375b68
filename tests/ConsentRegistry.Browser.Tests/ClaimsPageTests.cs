using ConsentRegistry.Browser.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>"My claims" when the browser or the registry gets in the way.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ClaimsPageTests(BrowserFixture registry) : IClassFixture<BrowserFixture>
{
    /// <summary>What a browser that blocks storage (some private modes, some policies) does to the page.</summary>
    private const string RefuseIndexedDb = """
        Object.defineProperty(window, 'indexedDB', {
          configurable: true,
          get() { throw new DOMException('The user denied permission to access the database.', 'SecurityError'); },
        });
        """;

    [Fact]
    public async Task A_browser_that_refuses_indexeddb_gets_an_alert_saying_so_instead_of_an_empty_page()
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.Page.AddInitScriptAsync(RefuseIndexedDb);

        await artist.GoToAsync("/claims");

        var alert = artist.Page.GetByRole(AriaRole.Alert);
        await Expect(alert).ToContainTextAsync("does not let the page read your signing key");
        await Expect(alert).ToContainTextAsync("The user denied permission to access the database.");
        Assert.Empty(artist.Errors);
    }
}

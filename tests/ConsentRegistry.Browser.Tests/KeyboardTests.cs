using ConsentRegistry.Browser.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>An artist who cannot use a mouse registers a work with Tab, typing and Enter.</summary>
[Collection(BrowserCollection.Name)]
public sealed class KeyboardTests(BrowserFixture registry) : IClassFixture<BrowserFixture>
{
    /// <summary>The register form's controls (page contract).</summary>
    private static readonly string[] Controls =
    [
        "urls", "prefix", "site", "include-subdomains", "files", "use-tdm", "use-train-ai", "use-train-genai", "use-ai-use",
        "use-search", "title", "license", "contact", "submit-claim",
    ];

    [Fact]
    public async Task Tab_reaches_every_field_of_the_register_form_in_order_and_the_form_submits_with_the_keyboard_alone()
    {
        const string url = "https://keyboard-only.example/prints/heron.jpg";
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        await artist.GoToAsync("/register");
        var page = artist.Page;
        var domOrder = await page.EvaluateAsync<string[]>(
            "ids => [...document.querySelectorAll('input, select, textarea, button')].map(e => e.id).filter(id => ids.includes(id))", Controls);
        Assert.Equal(Controls.Order(), domOrder.Order());

        var visited = new List<string>();
        for (var presses = 0; presses < 60 && visited.LastOrDefault() != "submit-claim"; presses++)
        {
            await page.Keyboard.PressAsync("Tab");
            var focused = await page.EvaluateAsync<string>("() => document.activeElement?.id ?? ''");
            if (Controls.Contains(focused) && visited.LastOrDefault() != focused)
            {
                visited.Add(focused);
            }

            if (focused == "urls")
            {
                await page.Keyboard.TypeAsync(url);
            }
            else if (focused == "title")
            {
                await page.Keyboard.TypeAsync("Heron, typed without a mouse");
            }
        }

        Assert.Equal(domOrder, visited);
        await page.Keyboard.PressAsync("Enter");

        var receipt = await artist.ReadReceiptAsync();
        Assert.Equal("Heron, typed without a mouse", (await registry.Api.ClaimAsync(receipt.Id)).GetProperty("title").GetString());
        Assert.Equal("disallow", (await registry.Api.LookupUrlAsync(url)).TrainAi);
        await Expect(page.Locator("#register-status")).Not.ToContainTextAsync("rror");
        Assert.Empty(artist.Errors);
    }
}

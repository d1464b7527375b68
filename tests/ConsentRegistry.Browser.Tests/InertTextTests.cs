using ConsentRegistry.Browser.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>Whatever an artist (or someone pasting from a hostile page) types is shown as text, never run.</summary>
[Collection(BrowserCollection.Name)]
public sealed class InertTextTests(BrowserFixture registry) : IClassFixture<BrowserFixture>
{
    private const string Title = """<img src=x onerror="window.__xss=1">""";
    // The registry takes only URLs here, but URLs can carry markup.
    private const string License = "https://licences.example/by-nc?<script>window.__xss=2</script>";
    private const string Contact = "mailto:\"><svg/onload=\"window.__xss=3\">@studio.example";

    /// <summary>Elements the typed text would have created had a page parsed it as HTML.</summary>
    private const string InjectedElements =
        """() => document.querySelectorAll('img[src="x"], svg[onload], script:not([src]), a[href^="javascript"]').length""";

    [Fact]
    public async Task Script_typed_into_title_licence_and_contact_shows_as_literal_text_and_never_runs()
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();

        var receipt = await artist.RegisterAsync(new Work(["https://inert-text.example/a.jpg"], [], Title, License, Contact));

        Assert.Equal(0, await artist.Page.EvaluateAsync<int>(InjectedElements));
        Assert.True(await artist.Page.EvaluateAsync<bool>("() => window.__xss === undefined"));
        var stored = await registry.Api.ClaimAsync(receipt.Id);
        Assert.Equal(Title, stored.GetProperty("title").GetString());
        Assert.Equal(License, stored.GetProperty("terms").GetProperty("license").GetString());
        Assert.Equal(Contact, stored.GetProperty("terms").GetProperty("contact").GetString());

        var row = await artist.ClaimRowAsync(receipt.Id);

        await Expect(row).ToContainTextAsync(Title);
        Assert.Equal(0, await artist.Page.EvaluateAsync<int>(InjectedElements));
        Assert.True(await artist.Page.EvaluateAsync<bool>("() => window.__xss === undefined"));
        // A CSP refusal of an injected handler would show here as a console error.
        Assert.Empty(artist.Errors);
    }
}

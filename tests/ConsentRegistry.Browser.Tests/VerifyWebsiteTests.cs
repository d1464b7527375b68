using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Browser.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>/verify against a web site on loopback standing in for the artist's domain.</summary>
[Collection(BrowserCollection.Name)]
public sealed class VerifyWebsiteTests(BrowserFixture registry) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Verifying_a_website_that_lists_the_key_raises_the_url_only_claims_on_it_to_domain()
    {
        await using var artist = await registry.NewProfileAsync();
        var party = await artist.CreateKeyAsync();
        var page = (await artist.RegisterAsync(Work.Url("http://studio-verified.example/gallery/one.jpg", "Gallery one"))).Id;
        var elsewhere = (await artist.RegisterAsync(Work.Url("http://someone-elses.example/copy.jpg", "Copy elsewhere"))).Id;
        var withImage = (await artist.RegisterAsync(new Work(["http://studio-verified.example/gallery/two.jpg"], [Pictures.Shapes], "Shapes"))).Id;
        await artist.GoToAsync("/verify");
        var wellKnown = await artist.Page.Locator("pre#well-known").InnerTextAsync();
        Assert.Equal($$"""{"keys":["{{party}}"]}""", Regex.Replace(wellKnown, @"\s", ""));
        registry.Publish("studio-verified.example", party);

        await artist.Page.Locator("#verify-host").FillAsync("studio-verified.example");
        await artist.Page.Locator("#verify-button").ClickAsync();

        var result = artist.Page.Locator("#verify-result");
        await Expect(result).ToContainTextAsync("Verified");
        await Expect(result).ToContainTextAsync(new Regex(@"\b1\b"));
        Assert.Equal("domain", (await registry.Api.ClaimAsync(page)).GetProperty("trust").GetString());
        Assert.Equal("signed", (await registry.Api.ClaimAsync(elsewhere)).GetProperty("trust").GetString());
        Assert.Equal("signed", (await registry.Api.ClaimAsync(withImage)).GetProperty("trust").GetString());
        await Expect(await artist.ClaimRowAsync(page)).ToContainTextAsync("domain");
        await Expect(await artist.ClaimRowAsync(elsewhere, reload: false)).ToContainTextAsync("signed");
        await Expect(await artist.ClaimRowAsync(withImage, reload: false)).ToContainTextAsync("signed");
        Assert.Empty(artist.Errors);
    }

    [Fact]
    public async Task A_website_that_does_not_list_the_key_is_not_verified_and_the_page_says_why()
    {
        await using var artist = await registry.NewProfileAsync();
        var party = await artist.CreateKeyAsync();
        var claim = (await artist.RegisterAsync(Work.Url("http://studio-unlisted.example/a.jpg"))).Id;
        using var stranger = new TestSigner();
        registry.Publish("studio-unlisted.example", stranger.Party);
        await artist.GoToAsync("/verify");

        await artist.Page.Locator("#verify-host").FillAsync("studio-unlisted.example");
        await artist.Page.Locator("#verify-button").ClickAsync();

        var error = artist.Page.GetByRole(AriaRole.Alert);
        await Expect(error).Not.ToBeEmptyAsync();
        var detail = await ProblemDetailAsync(party, "studio-unlisted.example");
        await Expect(error).ToContainTextAsync(detail);
        await Expect(artist.Page.Locator("#verify-result")).ToBeEmptyAsync();
        Assert.Equal("signed", (await registry.Api.ClaimAsync(claim)).GetProperty("trust").GetString());
    }

    /// <summary>The problem's detail the API itself gives for the same verification.</summary>
    private async Task<string> ProblemDetailAsync(string party, string host)
    {
        var response = await registry.Api.PostAsync($"/v1/parties/{party}/domains/{host}/verify", null);
        Assert.False(response.IsSuccessStatusCode, $"verifying {host} answered {(int)response.StatusCode}");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        return problem.GetProperty("detail").GetString()!;
    }
}

using ConsentRegistry.Browser.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>Screen readers announce a page's messages only from live regions that are in the accessibility tree.</summary>
[Collection(BrowserCollection.Name)]
public sealed class LiveRegionTests(BrowserFixture registry) : IClassFixture<BrowserFixture>
{
    [Theory]
    [InlineData("/key")]
    [InlineData("/register")]
    [InlineData("/claims")]
    [InlineData("/verify")]
    public async Task Each_page_has_a_status_and_an_alert_region_in_the_accessibility_tree_before_any_message_without_an_empty_box(string path)
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();

        await artist.GoToAsync(path);
        var status = artist.Page.GetByRole(AriaRole.Status);
        var alert = artist.Page.GetByRole(AriaRole.Alert);

        await Expect(status).ToHaveCountAsync(1);
        await Expect(alert).ToHaveCountAsync(1);
        await Expect(alert).ToBeEmptyAsync();
        Assert.Equal(0, await alert.EvaluateAsync<double>("e => e.getBoundingClientRect().height"));
        Assert.Empty(artist.Errors);
    }
}

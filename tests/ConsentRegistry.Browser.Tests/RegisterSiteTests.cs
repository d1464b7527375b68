using ConsentRegistry.Browser.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>The Site field of /register takes what the Verify page takes: people paste addresses, not host names.</summary>
[Collection(BrowserCollection.Name)]
public sealed class RegisterSiteTests(BrowserFixture registry) : IClassFixture<BrowserFixture>
{
    [Theory]
    [InlineData("site-typed.example/portfolio/", "site-typed.example")]
    [InlineData("https://Site-Pasted.example/portfolio/", "site-pasted.example")]
    public async Task A_site_typed_with_a_path_or_pasted_as_an_address_is_registered_as_its_host_name(string typed, string host)
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
}

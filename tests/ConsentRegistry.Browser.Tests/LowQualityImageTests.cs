using ConsentRegistry.Browser.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>A perceptual hash of too little detail would match unrelated pictures: such a file is claimed by its SHA-256 only.</summary>
[Collection(BrowserCollection.Name)]
public sealed class LowQualityImageTests(BrowserFixture registry) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task An_image_below_pdq_quality_50_is_registered_by_its_sha256_only_and_the_page_says_so()
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();

        var receipt = await artist.RegisterAsync(Work.Image(Pictures.Tiny, "Tiny flat square"));

        var subjects = (await registry.Api.ClaimAsync(receipt.Id)).GetProperty("subjects").EnumerateArray()
            .Select(subject => (Kind: subject.GetProperty("kind").GetString(), Value: subject.GetProperty("value").GetString()))
            .ToList();
        Assert.Equal([("sha256", Pictures.Sha256Of(Pictures.Tiny))], subjects);
        await Expect(artist.Page.Locator("#register-progress")).ToContainTextAsync("only its exact file (SHA-256) is registered");
        Assert.Empty(artist.Errors);
    }
}

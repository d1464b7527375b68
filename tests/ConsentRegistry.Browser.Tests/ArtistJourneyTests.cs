using ConsentRegistry.Browser.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>The acceptance path, as a new artist walks it: key, two works, one revoked.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ArtistJourneyTests(BrowserFixture registry) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task A_new_artist_registers_an_uploaded_image_and_a_url_and_lookup_follows_each_step_through_revocation()
    {
        const string url = "https://harbour-paintings.example/works/harbour-at-dusk.jpg";
        var imageSha256 = Pictures.Sha256Of(Pictures.Bridge);
        Assert.Equal("unknown", (await registry.Api.LookupUrlAsync(url)).TrainAi);
        Assert.Equal("unknown", (await registry.Api.LookupSha256Async(imageSha256)).TrainAi);
        await using var artist = await registry.NewProfileAsync();

        var party = await artist.CreateKeyAsync();

        var image = await artist.RegisterAsync(Work.Image(Pictures.Bridge, "Bridge, study in grey"));
        Assert.Contains("signed", image.Trust);
        var imageClaim = await registry.Api.ClaimAsync(image.Id);
        Assert.Equal(party, imageClaim.GetProperty("party").GetString());
        Assert.Contains(imageClaim.GetProperty("subjects").EnumerateArray(),
            s => s.GetProperty("kind").GetString() == "embedding" && s.GetProperty("model").GetString() == "resnet18-gem-v2");
        var bySha256 = await registry.Api.LookupSha256Async(imageSha256);
        Assert.Equal("disallow", bySha256.TrainAi);
        Assert.Contains(image.Id, bySha256.Claims);
        Assert.Contains(image.Id, (await registry.Api.LookupPdqAsync(Pictures.BlurredBridgePdq)).Claims);
        Assert.Equal("unknown", (await registry.Api.LookupUrlAsync(url)).TrainAi);

        var work = await artist.RegisterAsync(Work.Url(url, "Harbour at dusk"));
        Assert.Contains("signed", work.Trust);
        Assert.Contains(url, work.Lookup);
        Assert.NotEqual(image.Id, work.Id);
        Assert.True(long.Parse(work.Seq) > long.Parse(image.Seq), $"receipt seq {work.Seq} after {image.Seq}");
        var byUrl = await registry.Api.LookupUrlAsync(url);
        Assert.Equal("disallow", byUrl.TrainAi);
        Assert.Equal([work.Id], byUrl.Claims);

        var imageRow = await artist.ClaimRowAsync(image.Id);
        await Expect(imageRow).ToContainTextAsync("active");
        var urlRow = await artist.ClaimRowAsync(work.Id, reload: false);
        await Expect(urlRow).ToContainTextAsync("Harbour at dusk");
        await Expect(urlRow).ToContainTextAsync("active");

        await urlRow.Locator("button.revoke").ClickAsync();

        await Expect(urlRow).ToContainTextAsync("revoked");
        await Expect(urlRow.Locator("button.revoke")).ToHaveCountAsync(0);
        var afterRevocation = await registry.Api.LookupUrlAsync(url);
        Assert.Equal("unknown", afterRevocation.TrainAi);
        Assert.Empty(afterRevocation.Claims);
        Assert.True((await registry.Api.ClaimAsync(work.Id)).GetProperty("revoked").GetBoolean());
        Assert.Equal("disallow", (await registry.Api.LookupSha256Async(imageSha256)).TrainAi);
        await Expect(await artist.ClaimRowAsync(work.Id)).ToContainTextAsync("revoked");
        await Expect(await artist.ClaimRowAsync(image.Id)).ToContainTextAsync("active");
        Assert.Empty(artist.Errors);
    }
}

using System.Text.RegularExpressions;
using ConsentRegistry.Browser.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>Image files on /register: what the registry cannot hash is said before sending, a busy registry is waited for, and one bad file does not cost the others' hashing.</summary>
[Collection(BrowserCollection.Name)]
public sealed class RegisterFilesTests(BrowserFixture registry) : IClassFixture<BrowserFixture>, IDisposable
{
    private const string ImagesPath = "/v1/images";

    private readonly string _folder = Directory.CreateTempSubdirectory("registry-files-").FullName;

    [Fact]
    public async Task A_file_of_a_type_the_registry_does_not_read_or_over_50_mib_is_named_with_its_reason_and_nothing_is_sent()
    {
        var svg = Path.Combine(_folder, "drawing.svg");
        await File.WriteAllTextAsync(svg, """<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>""");
        var huge = Path.Combine(_folder, "poster.png");
        await using (var file = File.Create(huge))
        {
            file.SetLength(50 * 1024 * 1024 + 1); // sparse: nothing is written
        }

        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        await artist.GoToAsync("/register");
        var files = artist.Page.Locator("#files");
        await Expect(files).ToHaveAttributeAsync("accept", "image/jpeg,image/png,image/webp,image/gif,image/bmp");

        await files.SetInputFilesAsync([Pictures.Shapes, huge, svg]);
        await artist.Page.Locator("#submit-claim").ClickAsync();

        var alert = artist.Page.GetByRole(AriaRole.Alert);
        await Expect(alert).ToContainTextAsync("The image drawing.svg cannot be hashed: it is image/svg+xml");
        await Expect(alert).ToContainTextAsync("The image poster.png cannot be hashed: it is larger than 50 MiB");
        await Expect(alert).Not.ToContainTextAsync(Path.GetFileName(Pictures.Shapes));
        await Expect(artist.Page.Locator("#receipt")).ToBeHiddenAsync();
        Assert.Equal(0, ImageRequests(artist));
        Assert.Empty(artist.Errors);
    }

    [Theory]
    [InlineData(503)]
    [InlineData(429)]
    public async Task A_busy_or_rate_limited_answer_to_hashing_is_tried_again_after_its_retry_after(int status)
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        var refused = 0;
        await artist.Page.RouteAsync($"**{ImagesPath}", async route =>
        {
            // The first two tries meet every decoder busy (or the address's budget spent), as on a loaded registry.
            if (Interlocked.Increment(ref refused) <= 2)
            {
                await route.FulfillAsync(new()
                {
                    Status = status,
                    Headers = new Dictionary<string, string> { ["Retry-After"] = "1" },
                    ContentType = "application/problem+json",
                    Body = $$"""{"title":"Busy","status":{{status}},"detail":"Every image decoder is busy; retry in a moment.","code":"busy"}""",
                });
                return;
            }

            await route.FallbackAsync();
        });

        var receipt = await artist.RegisterAsync(Work.Image(Pictures.Shapes, "Shapes, tried again"));

        Assert.Contains((Kind: "sha256", Value: Pictures.Sha256Of(Pictures.Shapes)), await SubjectsAsync(receipt.Id));
        Assert.Equal(3, ImageRequests(artist));
        // Chromium logs each refused request ("status of 503"); nothing else may go wrong.
        Assert.DoesNotContain(artist.Errors, error => !error.Contains(status.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task While_files_are_hashed_the_form_cannot_be_changed_so_the_claim_signed_is_the_one_shown_when_registering()
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        var hashing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await artist.Page.RouteAsync($"**{ImagesPath}", async route =>
        {
            hashing.TrySetResult();
            await release.Task; // a slow registry: hashing several files may take minutes
            await route.FallbackAsync();
        });
        await artist.GoToAsync("/register");
        await artist.Page.Locator("#files").SetInputFilesAsync([Pictures.Shapes]);
        await artist.Page.Locator("#title").FillAsync("Shapes, as shown");
        await artist.Page.Locator("#use-search").SelectOptionAsync("n");

        await artist.Page.Locator("#submit-claim").ClickAsync();
        await hashing.Task.WaitAsync(TimeSpan.FromSeconds(30));

        foreach (var control in new[] { "#title", "#use-search", "#urls", "#files", "#submit-claim" })
        {
            await Expect(artist.Page.Locator(control)).ToBeDisabledAsync();
        }

        release.TrySetResult();
        var claim = await registry.Api.ClaimAsync((await artist.ReadReceiptAsync()).Id);
        Assert.Equal("Shapes, as shown", claim.GetProperty("title").GetString());
        Assert.Equal("n", claim.GetProperty("usage").GetProperty("search").GetString());
        await Expect(artist.Page.Locator("#title")).ToBeEnabledAsync();
        await Expect(artist.Page.Locator("#submit-claim")).ToBeEnabledAsync();
        Assert.Empty(artist.Errors);
    }

    [Fact]
    public async Task When_one_file_is_refused_the_page_names_it_and_registering_again_does_not_send_the_others_again()
    {
        var broken = Path.Combine(_folder, "broken.png");
        await File.WriteAllBytesAsync(broken, [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8]);
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        await artist.GoToAsync("/register");
        var files = artist.Page.Locator("#files");
        await files.SetInputFilesAsync([Pictures.Shapes, broken]);
        await artist.Page.Locator("#submit-claim").ClickAsync();

        var alert = artist.Page.GetByRole(AriaRole.Alert);
        await Expect(alert).ToContainTextAsync("The image broken.png could not be hashed.");
        await Expect(alert).ToContainTextAsync(new Regex("other image .*not sent again"));
        Assert.Equal(2, ImageRequests(artist));

        // The artist swaps the broken file for a good one; the first file is chosen again as well.
        await files.SetInputFilesAsync([Pictures.Shapes, Pictures.Bridge]);
        await artist.Page.Locator("#submit-claim").ClickAsync();
        var receipt = await artist.ReadReceiptAsync();

        var subjects = await SubjectsAsync(receipt.Id);
        Assert.Contains(("sha256", Pictures.Sha256Of(Pictures.Shapes)), subjects);
        Assert.Contains(("sha256", Pictures.Sha256Of(Pictures.Bridge)), subjects);
        Assert.Contains(subjects, subject => subject.Kind == "pdq");
        Assert.Equal(3, ImageRequests(artist));
    }

    private static int ImageRequests(ArtistBrowser artist) =>
        artist.Requests.Count(url => new Uri(url).AbsolutePath == ImagesPath);

    private async Task<List<(string? Kind, string? Value)>> SubjectsAsync(string claimId) =>
        (await registry.Api.ClaimAsync(claimId)).GetProperty("subjects").EnumerateArray()
            .Select(subject => (Kind: subject.GetProperty("kind").GetString(), Value: subject.GetProperty("value").GetString()))
            .ToList();

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}

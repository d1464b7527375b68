using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ConsentRegistry.Browser.Tests.Infrastructure;

/// <summary>
/// Test artifacts: one PNG per page and window width, under TestResults/&lt;engine&gt;/screenshots
/// (scripts/test.sh clears that folder per run), or REGISTRY_TEST_SCREENSHOTS when set.
/// </summary>
public static class Screenshots
{
    public static string Directory { get; } =
        Environment.GetEnvironmentVariable("REGISTRY_TEST_SCREENSHOTS") is { Length: > 0 } configured
            ? configured
            : Path.Combine(RepositoryPaths.Root, "TestResults", TestDatabase.ConfiguredProvider, "screenshots");

    /// <summary>Saves what the window shows as <c>&lt;name&gt;-&lt;width&gt;.png</c> and returns the path.</summary>
    public static async Task<string> SaveAsync(IPage page, string name)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = Path.Combine(Directory, $"{name}-{page.ViewportSize!.Width}.png");
        await page.ScreenshotAsync(new() { Path = path, Animations = ScreenshotAnimations.Disabled });
        return path;
    }
}

using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Api.Verification;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace ConsentRegistry.Browser.Tests.Infrastructure;

/// <summary>
/// What one test class drives: the real registry on Kestrel over a fresh <see cref="TestDatabase"/>,
/// a web site on loopback standing in for artists' domains, and one headless Debian Chromium.
/// Each <see cref="NewProfileAsync"/> is a fresh browser profile (its own IndexedDB).
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    /// <summary>Debian's Chromium; Playwright must never download a browser of its own.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright _playwright = null!;

    public FakeNetwork Network { get; } = new();

    public WellKnownServer Sites { get; private set; } = null!;

    public RegistryApp App { get; private set; } = null!;

    /// <summary>The test's own view of the API, to check what the pages did.</summary>
    public HttpClient Api { get; private set; } = null!;

    /// <summary>The registry's origin, such as <c>http://127.0.0.1:40123</c>.</summary>
    public string Origin { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException(
                $"The browser tests drive Debian's Chromium at {ChromiumPath}, which is missing: run scripts/test.sh " +
                "(it installs the chromium package) or `apt-get install chromium`.");
        }

        Sites = await WellKnownServer.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            // Development settings for domain verification: the test site is plain http on loopback.
            ["Registry:Verification:AllowInsecureHttp"] = "true",
            ["Registry:Verification:AllowPrivateAddresses"] = "true",
            ["Registry:Verification:RequestsPerMinutePerAddress"] = "10000",
            ["Registry:Lookup:RequestsPerSecondPerAddress"] = "10000",
            // Every page test writes from the one loopback address; the budgets are tested in the API tests.
            ["Registry:WriteBudgets:Address:ClaimsPerHour"] = "1000000",
            ["Registry:WriteBudgets:NewParty:ClaimsPerHour"] = "1000000",
            ["Registry:WriteBudgets:ReadsPerSecondPerAddress"] = "10000",
            ["Registry:WriteBudgets:WritesPerSecondPerAddress"] = "10000",
        };
        App = await RegistryApp.StartAsync(settings, services => services.Configure<DomainFetchOptions>(Network.Configure));
        Api = App.CreateClient();
        Origin = Api.BaseAddress!.GetLeftPart(UriPartial.Authority);

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // Without the background-networking switches Chromium keeps dialling Google's hosts,
            // which this closed network refuses; the sandbox needs privileges CI runners lack.
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        });
    }

    /// <summary>A fresh browser profile: no key, no storage, at the given window size.</summary>
    public async Task<ArtistBrowser> NewProfileAsync(int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new()
        {
            BaseURL = Origin,
            ViewportSize = new() { Width = width, Height = height },
            AcceptDownloads = true,
            Locale = "en-GB",
        });
        return await ArtistBrowser.OpenAsync(context, Origin);
    }

    /// <summary>Makes <paramref name="host"/> resolve to the loopback site, which lists <paramref name="keys"/>.</summary>
    public void Publish(string host, params string[] keys)
    {
        Network.Publish(Sites, host, keys);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        Api?.Dispose();
        if (App is not null)
        {
            await App.DisposeAsync();
        }

        if (Sites is not null)
        {
            await Sites.DisposeAsync();
        }
    }
}

/// <summary>Browser tests run one class at a time: two cores do not carry several Chromiums well.</summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection
{
    public const string Name = "Browser";
}

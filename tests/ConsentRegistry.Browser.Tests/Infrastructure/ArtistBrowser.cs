using System.Collections.Concurrent;
using Microsoft.Playwright;

namespace ConsentRegistry.Browser.Tests.Infrastructure;

/// <summary>
/// One browser profile with one tab, driven the way an artist uses the form, through the ids and
/// labels of the page contract. It records what a careful user (or their browser's console) would
/// see go wrong: console errors, uncaught exceptions, and every request the pages make.
/// </summary>
public sealed class ArtistBrowser : IAsyncDisposable
{
    private readonly string _origin;

    private ArtistBrowser(IBrowserContext context, IPage page, string origin)
    {
        Context = context;
        Page = page;
        _origin = origin;
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                Errors.Enqueue($"console: {message.Text}");
            }
        };
        page.PageError += (_, error) => Errors.Enqueue($"page error: {error}");
        page.Request += (_, request) => Requests.Enqueue(request.Url);
        page.Response += (_, response) => Responses.Enqueue(response);
        // The revoke button asks confirm(); an artist who clicked it means it.
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
    }

    public IBrowserContext Context { get; }

    public IPage Page { get; }

    public ConcurrentQueue<string> Errors { get; } = new();

    public ConcurrentQueue<string> Requests { get; } = new();

    public ConcurrentQueue<IResponse> Responses { get; } = new();

    public static async Task<ArtistBrowser> OpenAsync(IBrowserContext context, string origin)
    {
        // CI runs this project beside the API tests on two cores, where a page as heavy as Swagger UI
        // can take longer than Playwright's 5 s to render: assertions wait as long as actions do.
        context.SetDefaultTimeout(15_000);
        Assertions.SetDefaultExpectTimeout(15_000);
        return new ArtistBrowser(context, await context.NewPageAsync(), origin);
    }

    /// <summary>Opens a page of the form and returns the document's response.</summary>
    public async Task<IResponse> GoToAsync(string path)
    {
        var response = await Page.GotoAsync(path, new() { WaitUntil = WaitUntilState.NetworkIdle });
        Assert.NotNull(response);
        Assert.True(response.Ok, $"GET {path} answered {response.Status}.");
        return response;
    }

    /// <summary>On /key: creates a signing key and returns its party id.</summary>
    public async Task<string> CreateKeyAsync()
    {
        await GoToAsync("/key");
        await Page.Locator("#create-key").ClickAsync();
        await Assertions.Expect(Page.Locator("#key-status")).ToContainTextAsync("Key created");
        return await PartyIdAsync();
    }

    public async Task<string> PartyIdAsync()
    {
        var party = Page.Locator("#party-id");
        await Assertions.Expect(party).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"\S{20,}"));
        return (await party.InnerTextAsync()).Trim();
    }

    /// <summary>On /key, right after creating or restoring the key: downloads the backup.</summary>
    public async Task<string> ExportBackupAsync(string passphrase, string saveTo)
    {
        await Page.Locator("#backup-passphrase").FillAsync(passphrase);
        await Page.Locator("#backup-passphrase-again").FillAsync(passphrase);
        var download = await Page.RunAndWaitForDownloadAsync(() => Page.Locator("#export-backup").ClickAsync());
        Assert.Equal("consent-registry-key-backup.json", download.SuggestedFilename);
        await download.SaveAsAsync(saveTo);
        return saveTo;
    }

    /// <summary>On /key: restores a key from a backup file.</summary>
    public async Task ImportBackupAsync(string file, string passphrase)
    {
        await Page.Locator("#import-file").SetInputFilesAsync(file);
        await Page.Locator("#import-passphrase").FillAsync(passphrase);
        await Page.Locator("#import-backup").ClickAsync();
    }

    /// <summary>Fills the register form and submits it; returns the receipt once it shows.</summary>
    public async Task<Receipt> RegisterAsync(Work work)
    {
        await GoToAsync("/register");
        if (work.Urls.Length > 0)
        {
            await Page.Locator("#urls").FillAsync(string.Join('\n', work.Urls));
        }

        if (work.Files.Length > 0)
        {
            await Page.Locator("#files").SetInputFilesAsync(work.Files);
        }

        await Page.Locator("#title").FillAsync(work.Title ?? "");
        await Page.Locator("#license").FillAsync(work.License ?? "");
        await Page.Locator("#contact").FillAsync(work.Contact ?? "");
        await Page.Locator("#submit-claim").ClickAsync();
        return await ReadReceiptAsync();
    }

    public async Task<Receipt> ReadReceiptAsync()
    {
        var receipt = Page.Locator("section#receipt");
        await Assertions.Expect(receipt).ToBeVisibleAsync(new() { Timeout = 30_000 });
        var id = (await receipt.Locator("#receipt-id").InnerTextAsync()).Trim();
        var seq = (await receipt.Locator("#receipt-seq").InnerTextAsync()).Trim();
        var trust = (await receipt.Locator("#receipt-trust").InnerTextAsync()).Trim();
        var lookup = (await receipt.Locator("#receipt-lookup").InnerTextAsync()).Trim();
        return new Receipt(id, seq, trust, lookup);
    }

    /// <summary>The row of claim <paramref name="id"/> on My claims (opening the page if needed).</summary>
    public async Task<ILocator> ClaimRowAsync(string id, bool reload = true)
    {
        if (reload)
        {
            await GoToAsync("/claims");
        }

        var row = Page.Locator($"#claims-table tr[data-claim-id=\"{id}\"]");
        await Assertions.Expect(row).ToBeVisibleAsync();
        return row;
    }

    /// <summary>Requests that left the registry's origin (data: and blob: URLs stay in the page).</summary>
    public IReadOnlyList<string> ThirdPartyRequests() =>
        Requests.Where(url => !url.StartsWith(_origin + "/", StringComparison.Ordinal)
            && !url.StartsWith("data:", StringComparison.Ordinal) && !url.StartsWith("blob:", StringComparison.Ordinal)).ToList();

    public async ValueTask DisposeAsync() => await Context.CloseAsync();
}

/// <summary>A work as the artist types it into /register.</summary>
public sealed record Work(string[] Urls, string[] Files, string? Title = null, string? License = null, string? Contact = null)
{
    public static Work Url(string url, string? title = null) => new([url], [], title);

    public static Work Image(string file, string? title = null) => new([], [file], title);
}

/// <summary>What the receipt on /register shows.</summary>
public sealed record Receipt(string Id, string Seq, string Trust, string Lookup);

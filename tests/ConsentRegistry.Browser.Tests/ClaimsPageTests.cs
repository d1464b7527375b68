using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using ConsentRegistry.Browser.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>"My claims" when the browser or the registry gets in the way.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ClaimsPageTests(BrowserFixture registry) : IClassFixture<BrowserFixture>
{
    /// <summary>What a browser that blocks storage (some private modes, some policies) does to the page.</summary>
    private const string RefuseIndexedDb = """
        Object.defineProperty(window, 'indexedDB', {
          configurable: true,
          get() { throw new DOMException('The user denied permission to access the database.', 'SecurityError'); },
        });
        """;

    [Fact]
    public async Task A_browser_that_refuses_indexeddb_gets_an_alert_saying_so_instead_of_an_empty_page()
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.Page.AddInitScriptAsync(RefuseIndexedDb);

        await artist.GoToAsync("/claims");

        var alert = artist.Page.GetByRole(AriaRole.Alert);
        await Expect(alert).ToContainTextAsync("does not let the page read your signing key");
        await Expect(alert).ToContainTextAsync("The user denied permission to access the database.");
        Assert.Empty(artist.Errors);
    }

    [Fact]
    public async Task Untitled_claims_are_named_a_few_requests_at_a_time_and_a_429_is_tried_again_after_its_retry_after()
    {
        const int count = 12;
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        var ids = await RegisterUntitledAsync(artist.Page, count);
        var claimPage = new Regex("/v1/claims/[0-9a-f]{64}$");
        var inFlight = 0;
        var mostInFlight = 0;
        var requested = new ConcurrentDictionary<string, int>();
        artist.Page.Request += (_, request) =>
        {
            if (claimPage.IsMatch(request.Url))
            {
                var now = Interlocked.Increment(ref inFlight);
                InterlockedMax(ref mostInFlight, now);
                requested.AddOrUpdate(request.Url, 1, (_, n) => n + 1);
            }
        };
        artist.Page.RequestFinished += (_, request) => Settled(request);
        artist.Page.RequestFailed += (_, request) => Settled(request);
        // The registry's read limit, as the page meets it when it asks too fast: every claim's first
        // request is refused with a Retry-After of one second. Each answer takes a moment, so that
        // requests sent at once overlap.
        await artist.Page.RouteAsync(claimPage, async route =>
        {
            await Task.Delay(150);
            if (requested.GetValueOrDefault(route.Request.Url) <= 1)
            {
                await route.FulfillAsync(new()
                {
                    Status = 429,
                    Headers = new Dictionary<string, string> { ["Retry-After"] = "1" },
                    ContentType = "application/problem+json",
                    Body = """{"title":"Too Many Requests","status":429,"detail":"Too many reads; try again in 1 s.","code":"too-many-requests"}""",
                });
                return;
            }

            await route.FulfillAsync(new() { Response = await route.FetchAsync() });
        });

        await artist.GoToAsync("/claims");

        for (var i = 0; i < count; i++)
        {
            await Expect(artist.Page.Locator($"#claims-table tr[data-claim-id=\"{ids[i]}\"] .claim-title"))
                .ToHaveTextAsync(UntitledUrl(i), new() { Timeout = 60_000 });
        }

        Assert.InRange(mostInFlight, 1, 4);
        Assert.Equal(count, requested.Count);
        Assert.All(requested.Values, tries => Assert.Equal(2, tries));
        // Chromium logs each refused request ("status of 429"); nothing else may go wrong.
        Assert.DoesNotContain(artist.Errors, error => !error.Contains("429", StringComparison.Ordinal));

        void Settled(IRequest request)
        {
            if (claimPage.IsMatch(request.Url))
            {
                Interlocked.Decrement(ref inFlight);
            }
        }
    }

    [Fact]
    public async Task Each_revoke_button_is_named_after_its_claim_and_revokes_that_claim()
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        var titled = (await artist.RegisterAsync(Work.Url("https://named-buttons.example/harbour.jpg", "Harbour at dawn"))).Id;
        var untitled = (await RegisterUntitledAsync(artist.Page, 1))[0];
        await artist.GoToAsync("/claims");
        var page = artist.Page;

        // An untitled claim's button takes the name of its first subject once the page has it.
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = $"Revoke {UntitledUrl(0)}", Exact = true })).ToHaveCountAsync(1);
        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke Harbour at dawn", Exact = true }).ClickAsync();

        await Expect(await artist.ClaimRowAsync(titled, reload: false)).ToContainTextAsync("revoked");
        await Expect(await artist.ClaimRowAsync(untitled, reload: false)).ToContainTextAsync("active");
        Assert.Empty(artist.Errors);
    }

    private static string UntitledUrl(int i) => $"https://untitled-works.example/sketches/{i}.jpg";

    /// <summary>
    /// Registers <paramref name="count"/> claims without a title, signed with the browser's key by the
    /// pages' own module (quicker than the form, which would also look each one up).
    /// </summary>
    private static async Task<string[]> RegisterUntitledAsync(IPage page, int count) =>
        await page.EvaluateAsync<string[]>("""
            async (urls) => {
              const { loadKey, now, signJws } = await import('/assets/signing-key.js');
              const record = await loadKey();
              const ids = [];
              for (const url of urls) {
                const jws = await signJws(record, { v: 1, iat: now(), subjects: [{ kind: 'url', value: url }], usage: { 'train-ai': 'n' } });
                const response = await fetch('/v1/claims', { method: 'POST', headers: { 'Content-Type': 'application/jose' }, body: jws });
                if (!response.ok) {
                  throw new Error(`POST /v1/claims answered ${response.status}: ${await response.text()}`);
                }
                ids.push((await response.json()).id);
              }
              return ids;
            }
            """, Enumerable.Range(0, count).Select(UntitledUrl).ToArray());

    private static void InterlockedMax(ref int target, int value)
    {
        for (var seen = Volatile.Read(ref target); value > seen; seen = Volatile.Read(ref target))
        {
            if (Interlocked.CompareExchange(ref target, value, seen) == seen)
            {
                return;
            }
        }
    }
}

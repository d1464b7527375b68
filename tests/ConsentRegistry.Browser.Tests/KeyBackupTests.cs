using ConsentRegistry.Browser.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>The key lives only in the browser; its passphrase-protected backup carries it to another.</summary>
[Collection(BrowserCollection.Name)]
public sealed class KeyBackupTests(BrowserFixture registry) : IClassFixture<BrowserFixture>, IDisposable
{
    private const string Passphrase = "lighthouse keeper at dawn";

    private readonly string _folder = Directory.CreateTempSubdirectory("registry-backup-").FullName;

    [Fact]
    public async Task A_key_restored_from_its_backup_in_a_fresh_browser_has_the_same_party_id_and_sees_the_same_claims()
    {
        var backup = Path.Combine(_folder, "consent-registry-key-backup.json");
        string party, claim;
        await using (var laptop = await registry.NewProfileAsync())
        {
            party = await laptop.CreateKeyAsync();
            await laptop.ExportBackupAsync(Passphrase, backup);
            claim = (await laptop.RegisterAsync(Work.Url("https://backup-test.example/sketch.png", "Sketch for the backup"))).Id;
            Assert.Empty(laptop.Errors);
        }

        await using var newComputer = await registry.NewProfileAsync();
        await newComputer.GoToAsync("/key");
        await Expect(newComputer.Page.Locator("#create-key")).ToBeVisibleAsync();

        await newComputer.ImportBackupAsync(backup, Passphrase);

        await Expect(newComputer.Page.Locator("#key-status")).ToContainTextAsync("Key restored");
        Assert.Equal(party, await newComputer.PartyIdAsync());
        await Expect(await newComputer.ClaimRowAsync(claim)).ToContainTextAsync("Sketch for the backup");
        await newComputer.GoToAsync("/key");
        Assert.Equal(party, await newComputer.PartyIdAsync());
        Assert.Empty(newComputer.Errors);
    }

    [Fact]
    public async Task A_wrong_passphrase_is_refused_and_leaves_the_browser_without_a_key()
    {
        var backup = Path.Combine(_folder, "consent-registry-key-backup.json");
        await using (var laptop = await registry.NewProfileAsync())
        {
            await laptop.CreateKeyAsync();
            await laptop.ExportBackupAsync(Passphrase, backup);
        }

        await using var newComputer = await registry.NewProfileAsync();
        await newComputer.GoToAsync("/key");

        await newComputer.ImportBackupAsync(backup, "lighthouse keeper at dusk");

        // Announced to screen readers too: the message sits in a live status region.
        await Expect(newComputer.Page.GetByRole(AriaRole.Status).Filter(new() { HasText = "That passphrase does not open this backup." }))
            .ToHaveCountAsync(1);
        await newComputer.GoToAsync("/key");
        await Expect(newComputer.Page.Locator("#create-key")).ToBeVisibleAsync();
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}

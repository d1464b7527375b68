using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
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
    public async Task A_backup_is_not_made_until_the_passphrase_is_typed_the_same_twice()
    {
        await using var laptop = await registry.NewProfileAsync();
        await laptop.CreateKeyAsync();
        var downloads = 0;
        laptop.Page.Download += (_, _) => Interlocked.Increment(ref downloads);

        await laptop.Page.Locator("#backup-passphrase").FillAsync(Passphrase);
        await laptop.Page.Locator("#backup-passphrase-again").FillAsync(Passphrase + "s");
        await laptop.Page.Locator("#export-backup").ClickAsync();

        await Expect(laptop.Page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "The two passphrases differ" })).ToHaveCountAsync(1);
        await Expect(laptop.Page.Locator("#backup-passphrase-again")).ToBeFocusedAsync();
        Assert.Equal(0, downloads);
        await laptop.ExportBackupAsync(Passphrase, Path.Combine(_folder, "typed-twice.json")); // the same twice: made
        Assert.Empty(laptop.Errors);
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

        // Announced to screen readers at once: an error goes to the page's alert region.
        await Expect(newComputer.Page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "That passphrase does not open this backup." }))
            .ToHaveCountAsync(1);
        await newComputer.GoToAsync("/key");
        await Expect(newComputer.Page.Locator("#create-key")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_new_backup_is_version_2_and_restoring_it_over_another_partys_key_asks_first_naming_that_party()
    {
        var backup = Path.Combine(_folder, "consent-registry-key-backup.json");
        string laptopParty;
        await using (var laptop = await registry.NewProfileAsync())
        {
            laptopParty = await laptop.CreateKeyAsync();
            await laptop.ExportBackupAsync(Passphrase, backup);
        }

        var file = JsonNode.Parse(await File.ReadAllTextAsync(backup))!;
        Assert.Equal(2, (int)file["version"]!);
        Assert.Equal(laptopParty, (string?)file["party"]);

        await using var desktop = await registry.NewProfileAsync();
        var desktopParty = await desktop.CreateKeyAsync();
        var dialogs = new List<string>();
        desktop.Page.Dialog += (_, dialog) => dialogs.Add(dialog.Message);

        await desktop.ImportBackupAsync(backup, Passphrase);

        await Expect(desktop.Page.Locator("#key-status")).ToContainTextAsync("Key restored");
        Assert.Equal(
            [$"This replaces the key of party {desktopParty} in this browser. Without its backup you can no longer revoke its claims."],
            dialogs);
        Assert.Equal(laptopParty, await desktop.PartyIdAsync());
        Assert.Empty(desktop.Errors);
    }

    [Fact]
    public async Task A_version_2_backup_whose_header_was_changed_does_not_open()
    {
        var backup = Path.Combine(_folder, "consent-registry-key-backup.json");
        await using (var laptop = await registry.NewProfileAsync())
        {
            await laptop.CreateKeyAsync();
            await laptop.ExportBackupAsync(Passphrase, backup);
        }

        var file = JsonNode.Parse(await File.ReadAllTextAsync(backup))!;
        file["kdf"]!["iterations"] = 600001;
        await File.WriteAllTextAsync(backup, file.ToJsonString());
        await using var newComputer = await registry.NewProfileAsync();
        await newComputer.GoToAsync("/key");

        await newComputer.ImportBackupAsync(backup, Passphrase);

        await Expect(newComputer.Page.Locator("#key-error")).ToContainTextAsync("That passphrase does not open this backup.");
        await newComputer.GoToAsync("/key");
        await Expect(newComputer.Page.Locator("#create-key")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_version_1_backup_without_additional_data_still_restores()
    {
        var (backup, party) = VersionOneBackup(Passphrase);
        var path = Path.Combine(_folder, "consent-registry-key-backup.json");
        await File.WriteAllTextAsync(path, backup.ToJsonString());
        await using var newComputer = await registry.NewProfileAsync();
        await newComputer.GoToAsync("/key");

        await newComputer.ImportBackupAsync(path, Passphrase);

        await Expect(newComputer.Page.Locator("#key-status")).ToContainTextAsync("Key restored");
        Assert.Equal(party, await newComputer.PartyIdAsync());
        Assert.Empty(newComputer.Errors);
    }

    public static TheoryData<string> UnusableBackups => new() { "few-iterations", "many-iterations", "short-salt", "long-iv", "too-large" };

    [Theory]
    [MemberData(nameof(UnusableBackups))]
    public async Task An_unusable_backup_file_is_refused_as_not_a_valid_backup_file_before_any_passphrase_is_tried(string defect)
    {
        var (backup, _) = VersionOneBackup(Passphrase);
        switch (defect)
        {
            case "few-iterations": backup["kdf"]!["iterations"] = 599999; break;
            case "many-iterations": backup["kdf"]!["iterations"] = 2000001; break;
            case "short-salt": backup["kdf"]!["salt"] = Base64Url(new byte[15]); break;
            case "long-iv": backup["cipher"]!["iv"] = Base64Url(new byte[16]); break;
            case "too-large": backup["padding"] = new string('x', 64 * 1024); break;
        }

        var path = Path.Combine(_folder, "consent-registry-key-backup.json");
        await File.WriteAllTextAsync(path, backup.ToJsonString());
        await using var newComputer = await registry.NewProfileAsync();
        await newComputer.GoToAsync("/key");

        await newComputer.ImportBackupAsync(path, Passphrase);

        await Expect(newComputer.Page.Locator("#key-error")).ToContainTextAsync("not a valid backup file");
        await Expect(newComputer.Page.Locator("#key-error")).Not.ToContainTextAsync("passphrase");
        await newComputer.GoToAsync("/key");
        await Expect(newComputer.Page.Locator("#create-key")).ToBeVisibleAsync();
    }

    /// <summary>A version 1 backup as the page wrote it before additional data: made here, independently of the page.</summary>
    private static (JsonObject Backup, string Party) VersionOneBackup(string passphrase)
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var key = ecdsa.ExportParameters(includePrivateParameters: true);
        string x = Base64Url(key.Q.X!), y = Base64Url(key.Q.Y!), d = Base64Url(key.D!);
        var party = Base64Url(SHA256.HashData(Encoding.UTF8.GetBytes($"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{x}\",\"y\":\"{y}\"}}")));
        var salt = RandomNumberGenerator.GetBytes(16);
        var iv = RandomNumberGenerator.GetBytes(12);
        var aesKey = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(passphrase), salt, 600000, HashAlgorithmName.SHA256, 32);
        var plaintext = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { kty = "EC", crv = "P-256", x, y, d }));
        var ciphertext = new byte[plaintext.Length + 16];
        using (var aes = new AesGcm(aesKey, 16))
        {
            aes.Encrypt(iv, plaintext, ciphertext.AsSpan(0, plaintext.Length), ciphertext.AsSpan(plaintext.Length));
        }

        var backup = new JsonObject
        {
            ["format"] = "consent-registry-key-backup",
            ["version"] = 1,
            ["kdf"] = new JsonObject { ["name"] = "PBKDF2", ["hash"] = "SHA-256", ["iterations"] = 600000, ["salt"] = Base64Url(salt) },
            ["cipher"] = new JsonObject { ["name"] = "AES-GCM", ["iv"] = Base64Url(iv) },
            ["ciphertext"] = Base64Url(ciphertext),
            ["party"] = party,
            ["publicJwk"] = new JsonObject { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = x, ["y"] = y },
        };
        return (backup, party);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}

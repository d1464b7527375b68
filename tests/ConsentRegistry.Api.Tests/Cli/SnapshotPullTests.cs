using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Cli;
using ConsentRegistry.Cli.Snapshots;
using ConsentRegistry.Core.Snapshots;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Cli;

/// <summary>
/// <c>consent-registry snapshot pull</c> and <c>snapshot info</c> against the real service on
/// loopback: a pulled file is the registry's, verified by a pinned key; a download continues from
/// its <c>.partial</c>; a manifest signed by another key, or no registry at all, leaves no file.
/// </summary>
public sealed class SnapshotPullTests(SnapshotPullTests.Registry registry) : IClassFixture<SnapshotPullTests.Registry>, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("snapshot-pull-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task A_pull_writes_the_registrys_snapshot_with_a_manifest_that_verifies_and_info_and_filter_see_the_same_snapshot()
    {
        var output = Path.Combine(_folder, "index.snap");

        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", registry.Url, "--out", output, "-q");

        Assert.True(exit == ExitCodes.Done, errors);
        Assert.Equal(registry.Bytes, await File.ReadAllBytesAsync(output));
        var manifest = SnapshotManifest.Parse(await File.ReadAllBytesAsync(output + ".manifest.json"))!;
        Assert.Equal((registry.Id, registry.Seq), (manifest.Id, manifest.Seq));
        using (var key = ParseKey(await registry.Client.GetByteArrayAsync("/v1/registry-key")))
        {
            Assert.True(manifest.IsSignedBy(key));
            // Trusted on first use and pinned: the key beside the output is the registry's.
            using var pinned = ParseKey(await File.ReadAllBytesAsync(output + ".registry-key.jwk"));
            Assert.Equal(key.Kid, pinned.Kid);
        }

        Assert.False(File.Exists(output + ".partial"));
        Assert.False(File.Exists(output + ".partial.json"));
        Assert.Equal(registry.Id, SnapshotFiles.Locate(output).Manifest!.Id); // what filter --snapshot names the source by

        var info = await RunProcessAsync("snapshot", "info", output, "--json");
        Assert.True(info.Exit == ExitCodes.Done, info.Errors);
        using var json = JsonDocument.Parse(info.Out);
        Assert.Equal(registry.Id, json.RootElement.GetProperty("id").GetString());
        Assert.Equal(registry.Seq, json.RootElement.GetProperty("seq").GetInt64());
        Assert.True(json.RootElement.GetProperty("manifest_matches").GetBoolean());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(registry.Bytes)), json.RootElement.GetProperty("sha256").GetString());
        Assert.InRange(json.RootElement.GetProperty("claims").GetInt32(), 1, Registry.Claims);

        var written = File.GetLastWriteTimeUtc(output);
        var again = await RunProcessAsync("snapshot", "pull", "--registry", registry.Url, "--out", output);
        Assert.True(again.Exit == ExitCodes.Done, again.Errors);
        Assert.Contains("already up to date", again.Out, StringComparison.Ordinal);
        Assert.Equal(written, File.GetLastWriteTimeUtc(output));
    }

    [Fact]
    public async Task A_pull_continues_the_partial_download_it_finds_and_discards_one_of_another_snapshot()
    {
        var output = Path.Combine(_folder, "resumed.snap");
        var half = registry.Bytes.Length / 2;
        await File.WriteAllBytesAsync(output + ".partial", registry.Bytes[..half]);
        await File.WriteAllTextAsync(output + ".partial.json", new JsonObject
        {
            ["id"] = registry.Id,
            ["size"] = registry.Bytes.Length,
            ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(registry.Bytes)),
        }.ToJsonString());

        var resumed = await RunProcessAsync("snapshot", "pull", "--registry", registry.Url, "--out", output);

        Assert.True(resumed.Exit == ExitCodes.Done, resumed.Errors);
        Assert.Contains($"from byte {half:N0}", resumed.Errors, StringComparison.Ordinal);
        Assert.DoesNotContain("starting over", resumed.Errors, StringComparison.Ordinal);
        Assert.Equal(registry.Bytes, await File.ReadAllBytesAsync(output));

        // The start of a snapshot the registry no longer serves: not continued, downloaded afresh.
        var stale = Path.Combine(_folder, "stale.snap");
        await File.WriteAllBytesAsync(stale + ".partial", new byte[half]);
        await File.WriteAllTextAsync(stale + ".partial.json", """{"id":"000000000001-20260101T000000000Z","size":1,"sha256":"00"}""");

        var fresh = await RunProcessAsync("snapshot", "pull", "--registry", registry.Url, "--out", stale);

        Assert.True(fresh.Exit == ExitCodes.Done, fresh.Errors);
        Assert.Contains("discarding the unfinished download of snapshot 000000000001-20260101T000000000Z", fresh.Errors, StringComparison.Ordinal);
        Assert.Equal(registry.Bytes, await File.ReadAllBytesAsync(stale));
    }

    [Fact]
    public async Task A_pull_waits_out_a_429_continues_a_cut_off_download_and_starts_over_when_its_range_is_answered_with_the_whole_file()
    {
        await using var scripted = new ScriptedRegistry(
            registry.Client, ScriptedRegistry.FileAnswer.TooManyRequests, ScriptedRegistry.FileAnswer.CutOffHalfway, ScriptedRegistry.FileAnswer.WholeIgnoringRange);
        var output = Path.Combine(_folder, "scripted.snap");

        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", scripted.Url, "--out", output);

        Assert.True(exit == ExitCodes.Done, errors);
        Assert.Equal(registry.Bytes, await File.ReadAllBytesAsync(output));
        var half = registry.Bytes.Length / 2;
        Assert.Equal([null, null, $"bytes={half}-"], scripted.FileRanges);
        Assert.Contains("the registry answered 429", errors, StringComparison.Ordinal);
        Assert.Contains($"the download was cut off at byte {half:N0}", errors, StringComparison.Ordinal);
        Assert.Contains($"instead of from byte {half:N0}; starting over", errors, StringComparison.Ordinal);
        Assert.False(File.Exists(output + ".partial"));
    }

    /// <summary>
    /// A server (or proxy) that ignores Range and cuts every answer at the same byte starts the file
    /// over each time, and one that answers 416 to the range does too: the file growing back to
    /// where it was cut is no progress, so the pull gives up after 8 answers (about a minute of
    /// backoff) with exit 3, instead of downloading the same half for ever.
    /// </summary>
    [Theory]
    [InlineData(false, "kept being cut off")]
    [InlineData(true, "with 416")]
    public async Task A_download_cut_off_at_the_same_byte_every_time_gives_up_with_exit_3(bool everyOtherAnswerA416, string message)
    {
        // More answers than the pull may take: past them, the scripted registry sends the whole file.
        var answers = Enumerable.Range(0, 40)
            .Select(i => everyOtherAnswerA416 && i % 2 == 1 ? ScriptedRegistry.FileAnswer.RangeNotSatisfiable : ScriptedRegistry.FileAnswer.CutOffHalfway)
            .ToArray();
        await using var scripted = new ScriptedRegistry(registry.Client, answers);
        var output = Path.Combine(_folder, "looping.snap");

        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", scripted.Url, "--out", output, "-q");

        Assert.True(exit == ExitCodes.RegistryUnreachable, $"exit {exit}: {errors}");
        Assert.Contains(message, errors, StringComparison.Ordinal);
        Assert.Equal(8, scripted.FileRanges.Count);
        Assert.False(File.Exists(output));
    }

    /// <summary>Behind a balancer, the file may be asked of an instance that does not hold the snapshot: the pull reads the newest manifest again and tries again, a few times.</summary>
    [Fact]
    public async Task A_snapshot_file_answered_404_is_tried_again_from_the_newest_manifest_a_few_times()
    {
        await using (var scripted = new ScriptedRegistry(registry.Client, ScriptedRegistry.FileAnswer.NotFound, ScriptedRegistry.FileAnswer.NotFound))
        {
            var output = Path.Combine(_folder, "balanced.snap");

            var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", scripted.Url, "--out", output);

            Assert.True(exit == ExitCodes.Done, errors);
            Assert.Equal(2, errors.Split("reading the registry's newest snapshot again").Length - 1);
            Assert.Equal(registry.Bytes, await File.ReadAllBytesAsync(output));
        }

        await using (var gone = new ScriptedRegistry(registry.Client, ScriptedRegistry.FileAnswer.NotFound, ScriptedRegistry.FileAnswer.NotFound, ScriptedRegistry.FileAnswer.NotFound))
        {
            var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", gone.Url, "--out", Path.Combine(_folder, "gone.snap"), "-q");

            Assert.Equal(ExitCodes.RegistryUnreachable, exit);
            Assert.Contains("is gone from the registry", errors, StringComparison.Ordinal);
            Assert.Contains("run snapshot pull again", errors, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_download_longer_than_the_signed_size_is_refused_and_leaves_no_partial_file()
    {
        await using var scripted = new ScriptedRegistry(registry.Client, ScriptedRegistry.FileAnswer.OneByteTooMany);
        var output = Path.Combine(_folder, "long.snap");

        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", scripted.Url, "--out", output, "-q");

        Assert.Equal(ExitCodes.VerificationFailed, exit);
        Assert.Contains("more than the", errors, StringComparison.Ordinal);
        Assert.Equal([Path.GetFileName(output) + ".registry-key.jwk"], Directory.GetFiles(_folder, "long.snap*").Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_manifest_answer_larger_than_a_mebibyte_is_refused_unread()
    {
        await using var scripted = new ScriptedRegistry(registry.Client) { LatestManifest = new byte[(1 << 20) + 1] };
        var output = Path.Combine(_folder, "huge.snap");

        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", scripted.Url, "--out", output, "-q");

        Assert.Equal(ExitCodes.RegistryUnreachable, exit);
        Assert.Contains("larger than 1,048,576 bytes", errors, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    /// <summary>
    /// Without a manifest beside it, the file at <c>--out</c> is judged by its header: one whose
    /// creation time no date holds (its checksum recomputed) is no snapshot to go back from, and the
    /// pull replaces it as it does any other file that is not one.
    /// </summary>
    [Fact]
    public async Task A_file_at_the_output_whose_header_time_no_date_holds_is_replaced_by_the_registrys_snapshot()
    {
        var output = Path.Combine(_folder, "crafted.snap");
        var crafted = registry.Bytes.ToArray();
        CraftedSnapshots.SetCreated(crafted, long.MaxValue);
        await File.WriteAllBytesAsync(output, crafted);

        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", registry.Url, "--out", output, "-q");

        Assert.True(exit == ExitCodes.Done, errors);
        Assert.Equal(registry.Bytes, await File.ReadAllBytesAsync(output));
        Assert.Equal(registry.Id, SnapshotManifest.Parse(await File.ReadAllBytesAsync(output + ".manifest.json"))!.Id);
    }

    /// <summary>A signed manifest replayed (by a mirror, or a replica that lags) older than the installed snapshot would bring back what was opted out since.</summary>
    [Fact]
    public async Task An_older_snapshot_than_the_installed_one_is_refused_unless_allowed()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, new Dictionary<string, string?>
        {
            ["Registry:Snapshots:EveryLogEntries"] = "1",
            ["Registry:Snapshots:CheckInterval"] = "00:00:00.1",
        });
        app.StartServer();
        await app.WaitUntilReadyAsync();
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var output = Path.Combine(_folder, "newest.snap");

        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(signer.OptOut("https://older.example/1.jpg")))).StatusCode);
        var older = await LatestAtAsync(client, 1);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(signer.OptOut("https://older.example/2.jpg")))).StatusCode);
        var newer = await LatestAtAsync(client, 2);
        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", client.BaseAddress!.ToString(), "--out", output, "-q");
        Assert.True(exit == ExitCodes.Done, errors);
        var installed = await File.ReadAllBytesAsync(output);

        await using var replaying = new ScriptedRegistry(client) { LatestManifest = older.Manifest };
        (exit, errors) = await RunAsync("snapshot", "pull", "--registry", replaying.Url, "--out", output, "-q");

        Assert.Equal(ExitCodes.VerificationFailed, exit);
        Assert.Contains($"is older than {output} (snapshot {newer.Id}", errors, StringComparison.Ordinal);
        Assert.Equal(installed, await File.ReadAllBytesAsync(output));
        Assert.Equal(newer.Id, SnapshotManifest.Parse(await File.ReadAllBytesAsync(output + ".manifest.json"))!.Id);
        Assert.False(File.Exists(output + ".partial"));

        // Without its manifest (a pull stopped between installing the file and the manifest), the file's own header tells.
        File.Delete(output + ".manifest.json");
        (exit, errors) = await RunAsync("snapshot", "pull", "--registry", replaying.Url, "--out", output, "-q");
        Assert.Equal(ExitCodes.VerificationFailed, exit);
        Assert.Contains($"is older than {output} (snapshot {newer.Id}", errors, StringComparison.Ordinal);
        Assert.Equal(installed, await File.ReadAllBytesAsync(output));

        (exit, errors) = await RunAsync("snapshot", "pull", "--registry", replaying.Url, "--out", output, "-q", "--allow-older");
        Assert.True(exit == ExitCodes.Done, errors);
        Assert.Equal(older.Id, SnapshotManifest.Parse(await File.ReadAllBytesAsync(output + ".manifest.json"))!.Id);
    }

    /// <summary>
    /// A store recreated under the same registry key starts its seqs again: a snapshot of the old
    /// store (kept by a mirror or a proxy's cache) has a higher seq than the new store's, which do not
    /// compare, but it was made earlier, and installing it would bring back what was opted out since.
    /// </summary>
    [Fact]
    public async Task A_snapshot_of_another_store_made_before_the_installed_one_is_refused_unless_allowed()
    {
        var key = Path.Combine(_folder, "shared-registry-key.jwk");
        var settings = new Dictionary<string, string?>
        {
            ["Registry:Signing:KeyPath"] = key,
            ["Registry:Snapshots:EveryLogEntries"] = "1",
            ["Registry:Snapshots:CheckInterval"] = "00:00:00.1",
        };
        using var signer = new TestSigner();
        await using var oldDatabase = await TestDatabase.CreateAsync();
        await using var oldStore = new RegistryApp(oldDatabase, new Dictionary<string, string?>(settings));
        oldStore.StartServer();
        await oldStore.WaitUntilReadyAsync();
        using var oldClient = oldStore.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await oldClient.PostAsync("/v1/claims", Jose(signer.OptOut($"https://recreated.example/old-{i}.jpg")))).StatusCode);
        }

        var old = await LatestAtAsync(oldClient, 3);
        await Task.Delay(10); // the new store's snapshot is made later, to the millisecond

        await using var newDatabase = await TestDatabase.CreateAsync();
        await using var newStore = new RegistryApp(newDatabase, new Dictionary<string, string?>(settings));
        newStore.StartServer();
        await newStore.WaitUntilReadyAsync();
        using var newClient = newStore.CreateClient();
        Assert.Equal(HttpStatusCode.Created, (await newClient.PostAsync("/v1/claims", Jose(signer.OptOut("https://recreated.example/new.jpg")))).StatusCode);
        var current = await LatestAtAsync(newClient, 1);
        var output = Path.Combine(_folder, "recreated.snap");
        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", newClient.BaseAddress!.ToString(), "--out", output, "-q");
        Assert.True(exit == ExitCodes.Done, errors);
        var installed = await File.ReadAllBytesAsync(output);

        (exit, errors) = await RunAsync("snapshot", "pull", "--registry", oldClient.BaseAddress!.ToString(), "--out", output, "-q");

        Assert.Equal(ExitCodes.VerificationFailed, exit);
        Assert.Contains($"snapshot {old.Id} is of store", errors, StringComparison.Ordinal);
        Assert.Contains($"was made before {output} (snapshot {current.Id} of store", errors, StringComparison.Ordinal);
        Assert.Equal(installed, await File.ReadAllBytesAsync(output));
        Assert.Equal(current.Id, SnapshotManifest.Parse(await File.ReadAllBytesAsync(output + ".manifest.json"))!.Id);

        (exit, errors) = await RunAsync("snapshot", "pull", "--registry", oldClient.BaseAddress!.ToString(), "--out", output, "-q", "--allow-older");
        Assert.True(exit == ExitCodes.Done, errors);
        Assert.Equal(old.Id, SnapshotManifest.Parse(await File.ReadAllBytesAsync(output + ".manifest.json"))!.Id);

        // The other way round, a store's snapshot made after the installed one is taken, as a rebuilt registry's is.
        (exit, errors) = await RunAsync("snapshot", "pull", "--registry", newClient.BaseAddress!.ToString(), "--out", output, "-q");
        Assert.True(exit == ExitCodes.Done, errors);
        Assert.Equal(current.Id, SnapshotManifest.Parse(await File.ReadAllBytesAsync(output + ".manifest.json"))!.Id);
    }

    /// <summary>The registry's newest manifest once its seq is at least <paramref name="seq"/>, as served, and its id.</summary>
    private static async Task<(byte[] Manifest, string Id)> LatestAtAsync(HttpClient client, long seq)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var response = await client.GetAsync("/v1/snapshots/latest");
            var body = await response.Content.ReadAsByteArrayAsync();
            if (response.StatusCode == HttpStatusCode.OK && SnapshotManifest.Parse(body) is { } manifest && manifest.Seq >= seq)
            {
                return (body, manifest.Id);
            }

            Assert.True(DateTime.UtcNow < deadline, $"No snapshot at seq {seq} within 30 s.");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_manifest_not_signed_by_the_pinned_key_is_refused_and_leaves_no_file()
    {
        using var other = new TestSigner();
        var otherKey = Path.Combine(_folder, "other.jwk");
        await File.WriteAllTextAsync(otherKey, other.Jwk().ToJsonString());
        var output = Path.Combine(_folder, "index.snap");

        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", registry.Url, "--out", output, "--key", otherKey, "-q");

        Assert.Equal(ExitCodes.VerificationFailed, exit);
        Assert.Contains("not signed by the pinned registry key", errors, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_folder, "index.snap*")); // no file, no partial, and the registry's key was not pinned

        // Pinned on first use, then trusted over the registry's: a pin of another key refuses as --key does.
        File.Copy(otherKey, output + ".registry-key.jwk");
        (exit, errors) = await RunAsync("snapshot", "pull", "--registry", registry.Url, "--out", output, "-q");
        Assert.Equal(ExitCodes.VerificationFailed, exit);
        Assert.Contains(other.Party, errors, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    /// <summary>
    /// Pulled with --key (which pins nothing beside the output), then without: the key the registry
    /// serves is trusted on first use only when it is the one that signed the snapshot already there.
    /// </summary>
    [Fact]
    public async Task A_first_use_key_other_than_the_one_that_signed_the_installed_snapshot_is_refused_and_not_pinned()
    {
        var output = Path.Combine(_folder, "index.snap");
        var key = Path.Combine(_folder, "registry.jwk");
        await File.WriteAllTextAsync(key, await registry.Client.GetStringAsync("/v1/registry-key"));
        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", registry.Url, "--out", output, "--key", key, "-q");
        Assert.True(exit == ExitCodes.Done, errors);
        Assert.False(File.Exists(output + ".registry-key.jwk"));

        using var other = new TestSigner();
        await using var swapped = new ScriptedRegistry(registry.Client) { RegistryKey = System.Text.Encoding.UTF8.GetBytes(other.Jwk().ToJsonString()) };
        (exit, errors) = await RunAsync("snapshot", "pull", "--registry", swapped.Url, "--out", output, "-q");

        Assert.Equal(ExitCodes.VerificationFailed, exit);
        using var signer = ParseKey(await File.ReadAllBytesAsync(key));
        Assert.Contains($"serves the key {other.Party}, but the snapshot in {output} was signed by the key {signer.Kid}", errors, StringComparison.Ordinal);
        Assert.False(File.Exists(output + ".registry-key.jwk"));
        Assert.Equal(registry.Bytes, await File.ReadAllBytesAsync(output));

        // Without the manifest (a pull stopped between installing the file and its manifest), nothing
        // names the signer: no key is trusted on first use, the registry's own included.
        File.Delete(output + ".manifest.json");
        foreach (var answering in new[] { swapped.Url, registry.Url })
        {
            (exit, errors) = await RunAsync("snapshot", "pull", "--registry", answering, "--out", output, "-q");
            Assert.Equal(ExitCodes.VerificationFailed, exit);
            Assert.Contains($"{output} holds a snapshot, but no manifest beside it names the key that signed it", errors, StringComparison.Ordinal);
            Assert.False(File.Exists(output + ".registry-key.jwk"));
            Assert.Equal(registry.Bytes, await File.ReadAllBytesAsync(output));
        }

        // So does a manifest that is none (cut short, or edited): it names no signer either.
        await File.WriteAllTextAsync(output + ".manifest.json", $$"""{"id":"{{registry.Id}}","files":null}""");
        (exit, errors) = await RunAsync("snapshot", "pull", "--registry", swapped.Url, "--out", output, "-q");
        Assert.Equal(ExitCodes.VerificationFailed, exit);
        Assert.Contains($"{output} holds a snapshot, but no manifest beside it names the key that signed it", errors, StringComparison.Ordinal);
        Assert.False(File.Exists(output + ".registry-key.jwk"));

        (exit, errors) = await RunAsync("snapshot", "pull", "--registry", registry.Url, "--out", output, "--key", key, "-q");
        Assert.True(exit == ExitCodes.Done, errors);

        // The key that signed it is taken on first use, as before.
        (exit, errors) = await RunAsync("snapshot", "pull", "--registry", registry.Url, "--out", output, "-q");
        Assert.True(exit == ExitCodes.Done, errors);
        using var pinned = ParseKey(await File.ReadAllBytesAsync(output + ".registry-key.jwk"));
        Assert.Equal(signer.Kid, pinned.Kid);
    }

    [Fact]
    public async Task A_registry_that_does_not_answer_an_unusable_key_file_an_unwritable_output_and_Ctrl_C_are_told_apart_by_exit_code()
    {
        var output = Path.Combine(_folder, "index.snap");
        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", $"http://127.0.0.1:{ClosedPort()}", "--out", output, "-q");
        Assert.Equal(ExitCodes.RegistryUnreachable, exit);
        Assert.Contains("cannot reach the registry", errors, StringComparison.Ordinal);
        Assert.False(File.Exists(output));

        var notAKey = Path.Combine(_folder, "not-a-key.jwk");
        await File.WriteAllTextAsync(notAKey, """{"kty":"RSA"}""");
        (exit, errors) = await RunAsync("snapshot", "pull", "--registry", registry.Url, "--out", output, "--key", notAKey, "-q");
        Assert.Equal(ExitCodes.InputError, exit);
        Assert.Contains("not a P-256 public JWK", errors, StringComparison.Ordinal);

        var aFile = Path.Combine(_folder, "a-file");
        await File.WriteAllTextAsync(aFile, "");
        (exit, _) = await RunAsync("snapshot", "pull", "--registry", registry.Url, "--out", Path.Combine(aFile, "index.snap"), "-q");
        Assert.Equal(ExitCodes.InputError, exit);

        (exit, _) = await RunAsync("snapshot", "pull", "--out", output);
        Assert.Equal(ExitCodes.Usage, exit);

        using var stop = new CancellationTokenSource();
        await stop.CancelAsync();
        using var stopped = new StringWriter();
        Assert.Equal(ExitCodes.Interrupted, await CliApp.RunAsync(["snapshot", "pull", "--registry", registry.Url, "--out", output, "-q"], stopped, stop.Token));
        Assert.Contains("stopped", stopped.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task A_pull_into_a_file_another_pull_is_writing_stops_at_once_touching_nothing_beside_it()
    {
        var output = Path.Combine(_folder, "shared.snap");
        await File.WriteAllBytesAsync(output + ".partial", registry.Bytes[..1000]); // the other pull's download so far
        string? refusal;
        using (new FileStream(output + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", registry.Url, "--out", output, "-q");
            Assert.Equal(ExitCodes.InputError, exit);
            refusal = errors;
            Assert.Equal(registry.Bytes[..1000], await File.ReadAllBytesAsync(output + ".partial"));
            Assert.False(File.Exists(output));
        }

        Assert.Contains("another snapshot pull into", refusal, StringComparison.Ordinal);
        var (again, againErrors) = await RunAsync("snapshot", "pull", "--registry", registry.Url, "--out", output, "-q");
        Assert.True(again == ExitCodes.Done, againErrors);
        Assert.Equal(registry.Bytes, await File.ReadAllBytesAsync(output));
        Assert.False(File.Exists(output + ".lock"));
    }

    [Fact]
    public async Task Info_refuses_a_manifest_that_names_another_id_than_the_files_seq_and_time_give()
    {
        var output = Path.Combine(_folder, "renamed.snap");
        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", registry.Url, "--out", output, "-q");
        Assert.True(exit == ExitCodes.Done, errors);
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(output + ".manifest.json"))!;
        manifest["id"] = SnapshotManifest.IdFor(registry.Seq + 1, DateTimeOffset.UnixEpoch.AddYears(55));
        await File.WriteAllTextAsync(output + ".manifest.json", manifest.ToJsonString());

        var info = await RunProcessAsync("snapshot", "info", output, "--json");

        Assert.Equal(ExitCodes.VerificationFailed, info.Exit);
        Assert.Contains("is not of this file", info.Errors, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(info.Out);
        Assert.Equal(registry.Id, json.RootElement.GetProperty("id").GetString()); // the file's own, not the manifest's
        Assert.False(json.RootElement.GetProperty("manifest_matches").GetBoolean());
    }

    /// <summary>JSON may leave out or null what a manifest must have: such a manifest is none, told as one (exit 2), not a crash.</summary>
    [Theory]
    [InlineData("files", "[null]")]
    [InlineData("files", "null")]
    [InlineData("files", """[{"name":"index.snap","size":1}]""")]
    [InlineData("files", """[{"name":"index.snap","size":-1,"sha256":"00"}]""")]
    [InlineData("id", "null")]
    public async Task Info_refuses_a_manifest_without_a_member_it_needs(string member, string value)
    {
        var output = Path.Combine(_folder, "incomplete.snap");
        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", registry.Url, "--out", output, "-q");
        Assert.True(exit == ExitCodes.Done, errors);
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(output + ".manifest.json"))!;
        manifest[member] = JsonNode.Parse(value);
        await File.WriteAllTextAsync(output + ".manifest.json", manifest.ToJsonString());

        var info = await RunProcessAsync("snapshot", "info", output, "--json");

        Assert.Equal(ExitCodes.InputError, info.Exit);
        Assert.Contains("not a snapshot manifest", info.Errors, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", info.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Info_refuses_a_file_that_is_not_a_snapshot_a_truncated_one_and_one_it_cannot_read()
    {
        var notSnapshot = Path.Combine(_folder, "data.parquet");
        await File.WriteAllBytesAsync(notSnapshot, [.. "PAR1"u8, .. new byte[200]]);
        var truncated = Path.Combine(_folder, "truncated.snap");
        await File.WriteAllBytesAsync(truncated, registry.Bytes[..(registry.Bytes.Length - 100)]);

        foreach (var file in new[] { notSnapshot, truncated })
        {
            var (exit, errors) = await RunAsync("snapshot", "info", file, "--json");
            Assert.Equal(ExitCodes.InputError, exit);
            Assert.Contains("not a usable index snapshot", errors, StringComparison.Ordinal);
        }

        // A file that cannot be read: reading /proc/self/mem from its start fails with EIO, even as
        // root (who would read a file of mode 000).
        var (ioExit, ioErrors) = await RunAsync("snapshot", "info", "/proc/self/mem");
        Assert.Equal(ExitCodes.InputError, ioExit);
        Assert.StartsWith("consent-registry: /proc/self/mem: cannot read the snapshot: ", ioErrors, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"alg":"ES256","kid":"\ud800"}""")] // a lone surrogate: no text to show
    [InlineData("""{"alg":"ES256","kid":"../../etc"}""")]
    [InlineData("""[1]""")]
    public async Task A_manifest_signed_under_a_hostile_header_is_refused_without_repeating_its_kid(string header)
    {
        var manifest = JsonNode.Parse(await registry.Client.GetStringAsync("/v1/snapshots/latest"))!;
        var signature = (string)manifest["signature"]!;
        manifest["signature"] = Base64Url(header) + signature[signature.IndexOf('.', StringComparison.Ordinal)..];
        var body = System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString());
        await using var hostile = new RawHttpServer(System.Text.Encoding.ASCII.GetString(
            [.. System.Text.Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), .. body]));
        var key = Path.Combine(_folder, "registry.jwk");
        await File.WriteAllTextAsync(key, await registry.Client.GetStringAsync("/v1/registry-key"));

        var (exit, errors) = await RunAsync("snapshot", "pull", "--registry", $"http://127.0.0.1:{hostile.Port}/", "--out", Path.Combine(_folder, "index.snap"), "--key", key, "-q");

        Assert.True(exit == ExitCodes.VerificationFailed, errors);
        Assert.Contains("not signed by the pinned registry key", errors, StringComparison.Ordinal);
        Assert.DoesNotContain("it names the key", errors, StringComparison.Ordinal);
    }

    private static string Base64Url(string text) =>
        Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static RegistryPublicKey ParseKey(byte[] jwk) =>
        RegistryPublicKey.TryParse(jwk, out var key, out var error) ? key! : throw new InvalidOperationException(error);

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>The command in this process: its exit code and the error line it wrote.</summary>
    private static async Task<(int Exit, string Errors)> RunAsync(params string[] args)
    {
        using var errors = new StringWriter();
        var exit = await CliApp.RunAsync(args, errors, CancellationToken.None);
        return (exit, errors.ToString());
    }

    /// <summary>The command as a process of its own, where its stdout (the result) and stderr (notes) can be read apart from other tests'.</summary>
    private static Task<(int Exit, string Out, string Errors)> RunProcessAsync(params string[] args) =>
        CliRun.RunProgramAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "consent-registry.dll"), .. args], TimeSpan.FromSeconds(60));

    /// <summary>One registry that has written one snapshot, shared by the tests: its id, seq and the file's bytes.</summary>
    public sealed class Registry : IAsyncLifetime
    {
        public const int Claims = 5;

        private TestDatabase _database = null!;
        private RegistryApp _app = null!;

        public HttpClient Client { get; private set; } = null!;

        public string Url => Client.BaseAddress!.ToString();

        public string Id { get; private set; } = "";

        public long Seq { get; private set; }

        public byte[] Bytes { get; private set; } = [];

        public async Task InitializeAsync()
        {
            _database = await TestDatabase.CreateAsync();
            _app = new RegistryApp(_database, new Dictionary<string, string?>
            {
                ["Registry:Snapshots:EveryLogEntries"] = Claims.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Registry:Snapshots:CheckInterval"] = "00:00:00.1",
            });
            _app.StartServer();
            await _app.WaitUntilReadyAsync();
            Client = _app.CreateClient();
            using var signer = new TestSigner();
            for (var i = 0; i < Claims; i++)
            {
                Assert.Equal(HttpStatusCode.Created, (await Client.PostAsync("/v1/claims", Jose(signer.OptOut($"https://pull.example/{i}.jpg")))).StatusCode);
            }

            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                using var response = await Client.GetAsync("/v1/snapshots/latest");
                if (response.StatusCode == HttpStatusCode.OK && JsonNode.Parse(await response.Content.ReadAsStringAsync()) is { } manifest && (long)manifest["seq"]! >= Claims)
                {
                    (Id, Seq) = ((string)manifest["id"]!, (long)manifest["seq"]!);
                    break;
                }

                Assert.True(DateTime.UtcNow < deadline, "No snapshot within 30 s.");
                await Task.Delay(50);
            }

            Bytes = await Client.GetByteArrayAsync($"/v1/snapshots/{Id}/index.snap");
        }

        public async Task DisposeAsync()
        {
            Client.Dispose();
            await _app.DisposeAsync();
            await _database.DisposeAsync();
        }
    }
}

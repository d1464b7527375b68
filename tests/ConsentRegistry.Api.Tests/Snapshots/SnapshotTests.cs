using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Snapshots;

/// <summary>
/// Index snapshots (DESIGN.md 5.8, docs/snapshot-format.md): written once the log has grown,
/// served signed with Range, and the start of the next instance, which applies the log after
/// them; one that is corrupt, half-written or of another store is never used.
/// </summary>
public sealed partial class SnapshotTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("snapshots-").FullName;

    private string SnapshotPath => Path.Combine(_folder, "snapshots");

    private string KeyPath => Path.Combine(_folder, "registry-key.jwk");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task A_snapshot_is_written_once_the_log_grows_and_served_with_a_manifest_the_registry_key_signs_and_with_range()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = await StartAsync(database);
        using var client = app.CreateClient();
        await AssertProblemAsync(await client.GetAsync("/v1/snapshots/latest"), HttpStatusCode.NotFound, "snapshot-not-found");
        using var signer = new TestSigner();
        await SubmitAsync(client, signer, count: 5);

        var (manifest, text) = await LatestAsync(client, minSeq: 5);

        Assert.Matches(IdPattern(), (string)manifest["id"]!);
        Assert.True((long)manifest["seq"]! >= 5);
        Assert.Equal(5, (int)manifest["format"]!); // docs/snapshot-format.md: version 5 holds the trust a derived entry counts with
        var file = Assert.Single(manifest["files"]!.AsArray())!;
        Assert.Equal("index.snap", (string)file["name"]!);
        var url = $"/v1/snapshots/{manifest["id"]}/index.snap";
        var bytes = await client.GetByteArrayAsync(url);
        Assert.Equal((long)file["size"]!, bytes.Length);
        Assert.Equal((string)file["sha256"]!, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.Equal("CRINDEX\0"u8.ToArray(), bytes[..8]);

        // The signature: a JWS by the key at /v1/registry-key whose payload is the manifest without it.
        var jwk = JsonNode.Parse(await client.GetStringAsync("/v1/registry-key"))!;
        var parts = ((string)manifest["signature"]!).Split('.');
        var header = JsonNode.Parse(Decode(parts[0]))!;
        Assert.Equal(("ES256", (string)jwk["kid"]!, "consent-registry-snapshot+json"), ((string)header["alg"]!, (string)header["kid"]!, (string)header["typ"]!));
        using (var key = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Decode((string)jwk["x"]!), Y = Decode((string)jwk["y"]!) },
        }))
        {
            Assert.True(key.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), Decode(parts[2]), HashAlgorithmName.SHA256));
        }

        var unsigned = JsonNode.Parse(text)!.AsObject();
        unsigned.Remove("signature");
        Assert.True(JsonNode.DeepEquals(unsigned, JsonNode.Parse(Decode(parts[1]))));

        // Range: a part of the file, a resumed tail, HEAD, and what is not there.
        using var range = new HttpRequestMessage(HttpMethod.Get, url);
        range.Headers.Range = new RangeHeaderValue(10, 99);
        using var partial = await client.SendAsync(range);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal($"bytes 10-99/{bytes.Length}", partial.Content.Headers.ContentRange!.ToString());
        Assert.Equal(bytes[10..100], await partial.Content.ReadAsByteArrayAsync());
        using var tail = new HttpRequestMessage(HttpMethod.Get, url);
        tail.Headers.Range = new RangeHeaderValue(bytes.Length - 16, null);
        Assert.Equal(bytes[^16..], await (await client.SendAsync(tail)).Content.ReadAsByteArrayAsync());
        using var head = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, url));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(bytes.Length, head.Content.Headers.ContentLength);
        Assert.Equal($"\"{file["sha256"]}\"", head.Headers.ETag!.ToString());
        using var beyond = new HttpRequestMessage(HttpMethod.Get, url);
        beyond.Headers.Range = new RangeHeaderValue(bytes.Length + 10, null);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, (await client.SendAsync(beyond)).StatusCode);
        await AssertProblemAsync(await client.GetAsync($"/v1/snapshots/{manifest["id"]}/manifest.json"), HttpStatusCode.NotFound, "snapshot-not-found");
        await AssertProblemAsync(await client.GetAsync("/v1/snapshots/000000000001-20260101T000000000Z/index.snap"), HttpStatusCode.NotFound, "snapshot-not-found");
        await AssertProblemAsync(await client.GetAsync("/v1/snapshots/..%2F..%2Fetc/passwd"), HttpStatusCode.NotFound, "snapshot-not-found");
    }

    [Fact]
    public async Task The_next_instance_starts_from_the_snapshot_and_applies_the_log_after_it_and_old_snapshots_are_pruned()
    {
        await using var database = await TestDatabase.CreateAsync();
        using var signer = new TestSigner();
        string revokedId;
        long snapshotSeq;
        await using (var first = await StartAsync(database, keep: 2))
        {
            using var client = first.CreateClient();
            var ids = await SubmitAsync(client, signer, count: 5);
            revokedId = ids[0];
            var latest = await LatestAsync(client, minSeq: 5);
            var seen = new HashSet<string> { (string)latest.Manifest["id"]! };
            for (var round = 0; round < 3; round++)
            {
                // Five more entries than the last snapshot's seq, wherever among the claims it fell: a new one is due.
                await SubmitAsync(client, signer, count: 5, from: 100 * (round + 1));
                latest = await LatestAsync(client, minSeq: (long)latest.Manifest["seq"]! + 5);
                seen.Add((string)latest.Manifest["id"]!);
            }

            // The last one: within five of the 20 entries, so that no other follows it.
            latest = await LatestAsync(client, minSeq: 20 - 4);
            seen.Add((string)latest.Manifest["id"]!);
            Assert.True(seen.Count >= 4);
            snapshotSeq = (long)latest.Manifest["seq"]!;
        }

        // Counted once the instance has stopped: a snapshot is announced a moment before the ones
        // past Keep are deleted, so a count taken while it runs can see one more.
        Assert.Equal(2, Directory.GetDirectories(SnapshotPath).Length); // Keep = 2

        // After the last snapshot: a revocation and a new claim, which only the log holds.
        await using (var writer = await StartAsync(database, every: 1_000_000))
        {
            using var client = writer.CreateClient();
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsync($"/v1/claims/{revokedId}/revocation", Jose(signer.Revocation(revokedId)))).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(signer.OptOut("https://snap.example/after.jpg")))).StatusCode);
        }

        await using var restarted = await StartAsync(database, every: 1_000_000);
        Assert.Contains(restarted.Logs, line => line.Contains($"and the log after its seq {snapshotSeq}", StringComparison.Ordinal));
        using var again = restarted.CreateClient();
        var results = await again.LookupItemsAsync(
            new JsonObject { ["url"] = "https://snap.example/0.jpg" },
            new JsonObject { ["url"] = "https://snap.example/1.jpg" },
            new JsonObject { ["url"] = "https://snap.example/301.jpg" },
            new JsonObject { ["url"] = "https://snap.example/after.jpg" },
            new JsonObject { ["url"] = "https://snap.example/never.jpg" });
        Assert.Equal(["unknown", "disallow", "disallow", "disallow", "unknown"], results.Select(r => r.GetProperty("decision").GetProperty("train-ai").GetString()));
    }

    [Fact]
    public async Task A_corrupt_or_half_written_snapshot_is_discarded_and_the_one_before_it_or_the_store_is_used()
    {
        await using var database = await TestDatabase.CreateAsync();
        using var signer = new TestSigner();
        await using (var first = await StartAsync(database))
        {
            using var client = first.CreateClient();
            await SubmitAsync(client, signer, count: 5);
            var earlier = await LatestAsync(client, minSeq: 5);
            await SubmitAsync(client, signer, count: 5, from: 100);
            await LatestAsync(client, minSeq: (long)earlier.Manifest["seq"]! + 5);
        }

        var folders = Directory.GetDirectories(SnapshotPath).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(2, folders.Length);
        var (older, newer) = (Path.GetFileName(folders[0]), Path.GetFileName(folders[1]));

        // The newer one: one byte of its index changed, as a bad disk would. And a write that a kill left half done.
        var index = Path.Combine(folders[1], "index.snap");
        var bytes = await File.ReadAllBytesAsync(index);
        bytes[bytes.Length / 2] ^= 0x10;
        await File.WriteAllBytesAsync(index, bytes);
        var incoming = Directory.CreateDirectory(Path.Combine(SnapshotPath, ".incoming-0123456789abcdef")).FullName;
        await File.WriteAllBytesAsync(Path.Combine(incoming, "index.snap"), bytes[..(bytes.Length / 3)]);

        await using (var second = await StartAsync(database, every: 1_000_000))
        {
            Assert.Contains(second.Logs, line => line.Contains($"Discarding index snapshot {newer}", StringComparison.Ordinal) && line.Contains("checksum", StringComparison.Ordinal));
            Assert.Contains(second.Logs, line => line.Contains($"from snapshot {older}", StringComparison.Ordinal));
            Assert.Equal([older], Directory.GetFileSystemEntries(SnapshotPath).Select(Path.GetFileName));
            using var client = second.CreateClient();
            Assert.Equal(older, (string)(await LatestAsync(client, minSeq: 0)).Manifest["id"]!);
            await AssertAllOptedOutAsync(client, [.. Enumerable.Range(0, 5), .. Enumerable.Range(100, 5)]);
        }

        // A store that is not the one the snapshot was taken from: never started from.
        await using var otherDatabase = await TestDatabase.CreateAsync();
        await using var other = await StartAsync(otherDatabase, every: 1_000_000);
        Assert.Contains(other.Logs, line => line.Contains($"Discarding index snapshot {older}", StringComparison.Ordinal) && line.Contains("another store", StringComparison.Ordinal));
        Assert.Contains(other.Logs, line => line.Contains("from the store", StringComparison.Ordinal));
        using var otherClient = other.CreateClient();
        var results = await otherClient.LookupItemsAsync(new JsonObject { ["url"] = "https://snap.example/0.jpg" });
        Assert.Equal("unknown", results[0].GetProperty("decision").GetProperty("train-ai").GetString());
    }

    [Fact]
    public async Task A_snapshot_whose_manifest_cannot_be_read_is_kept_and_the_store_is_used()
    {
        await using var database = await TestDatabase.CreateAsync();
        using var signer = new TestSigner();
        await using (var first = await StartAsync(database))
        {
            using var client = first.CreateClient();
            await SubmitAsync(client, signer, count: 5);
            await LatestAsync(client, minSeq: 5);
        }

        // Reading /proc/self/mem from its start fails with EIO, even as root (who reads a file of
        // mode 000): a disk error, not a bad snapshot.
        var folder = Assert.Single(Directory.GetDirectories(SnapshotPath));
        var manifest = Path.Combine(folder, "manifest.json");
        var saved = await File.ReadAllBytesAsync(manifest);
        File.Delete(manifest);
        File.CreateSymbolicLink(manifest, "/proc/self/mem");

        await using (var second = await StartAsync(database, every: 1_000_000))
        {
            Assert.Contains(second.Logs, line => line.Contains($"Not starting from index snapshot {Path.GetFileName(folder)}, kept", StringComparison.Ordinal));
            Assert.Contains(second.Logs, line => line.Contains("from the store", StringComparison.Ordinal));
            Assert.True(Directory.Exists(folder));
            using var client = second.CreateClient();
            await AssertAllOptedOutAsync(client, [.. Enumerable.Range(0, 5)]);
        }

        File.Delete(manifest);
        await File.WriteAllBytesAsync(manifest, saved);
        await using var third = await StartAsync(database, every: 1_000_000);
        Assert.Contains(third.Logs, line => line.Contains($"from snapshot {Path.GetFileName(folder)}", StringComparison.Ordinal));
    }

    /// <summary>
    /// A file crafted with its checksums recomputed: its index section ahead of the seq its header
    /// and signed manifest give (a start would skip the log between them, here two claims), or a
    /// creation time no date holds. Each is discarded as a corrupt file is, and the index is built
    /// from the store with every claim.
    /// </summary>
    [Theory]
    [InlineData("index-seq")]
    [InlineData("created")]
    public async Task A_snapshot_crafted_with_a_seq_or_a_time_that_does_not_hold_is_discarded_and_the_store_is_used(string crafted)
    {
        await using var database = await TestDatabase.CreateAsync();
        using var signer = new TestSigner();
        await using (var first = await StartAsync(database))
        {
            using var client = first.CreateClient();
            await SubmitAsync(client, signer, count: 5);
            await LatestAsync(client, minSeq: 5);
        }

        // After the snapshot: claims that only the log holds.
        await using (var writer = await StartAsync(database, every: 1_000_000))
        {
            using var client = writer.CreateClient();
            await SubmitAsync(client, signer, count: 2, from: 100);
        }

        var folder = Assert.Single(Directory.GetDirectories(SnapshotPath));
        var index = Path.Combine(folder, "index.snap");
        var bytes = await File.ReadAllBytesAsync(index);
        if (crafted == "index-seq")
        {
            CraftedSnapshots.SetIndexSeq(bytes, CraftedSnapshots.IndexSeq(bytes) + 2);
        }
        else
        {
            CraftedSnapshots.SetCreated(bytes, long.MaxValue);
        }

        await File.WriteAllBytesAsync(index, bytes);

        await using var restarted = await StartAsync(database, every: 1_000_000);
        var why = crafted == "index-seq" ? "the header says" : "creation time";
        Assert.Contains(restarted.Logs, line => line.Contains($"Discarding index snapshot {Path.GetFileName(folder)}", StringComparison.Ordinal) && line.Contains(why, StringComparison.Ordinal));
        Assert.False(Directory.Exists(folder));
        using var again = restarted.CreateClient();
        Assert.False(await StartedFromSnapshotAsync(again));
        await AssertAllOptedOutAsync(again, [.. Enumerable.Range(0, 5), .. Enumerable.Range(100, 2)]);
    }

    [Fact]
    public async Task Kill_9_at_any_moment_of_snapshot_writing_leaves_a_start_from_a_whole_snapshot_or_the_store_with_every_claim()
    {
        await using var database = await TestDatabase.CreateAsync();
        using var signer = new TestSigner();
        var environment = new Dictionary<string, string>
        {
            ["Registry__WriteBudgets__Enabled"] = "false",
            ["Registry__Worker__Enabled"] = "false",
            ["Registry__Signing__KeyPath"] = KeyPath,
            ["Registry__Snapshots__Path"] = SnapshotPath,
            ["Registry__Snapshots__EveryLogEntries"] = "1",
            ["Registry__Snapshots__CheckInterval"] = "00:00:00.1",
        };
        var submitted = 0;
        var fromSnapshot = 0;
        var random = new Random(20261205);
        for (var round = 0; round < 4; round++)
        {
            using var service = await ServiceProcess.StartAsync(database, environment);
            fromSnapshot += await StartedFromSnapshotAsync(service.Client) ? 1 : 0;
            await AssertAllOptedOutAsync(service.Client, [.. Enumerable.Range(0, submitted)]);

            // Claims keep coming, so snapshots keep being written, until the kill at a random moment.
            using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(300 + random.Next(700)));
            while (!stop.IsCancellationRequested)
            {
                var response = await service.Client.PostAsync("/v1/claims", Jose(signer.OptOut($"https://snap.example/{submitted}.jpg")));
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
                submitted++;
            }

            service.Kill();
        }

        using var last = await ServiceProcess.StartAsync(database, environment);
        fromSnapshot += await StartedFromSnapshotAsync(last.Client) ? 1 : 0;
        await AssertAllOptedOutAsync(last.Client, [.. Enumerable.Range(0, submitted)]);
        Assert.True(fromSnapshot >= 1, "no start used a snapshot: the kills tested only the build from the store");
        Assert.DoesNotContain(Directory.GetDirectories(SnapshotPath), folder => Path.GetFileName(folder).StartsWith(".incoming-", StringComparison.Ordinal));
        var latest = await last.Client.GetAsync("/v1/snapshots/latest");
        if (latest.StatusCode == HttpStatusCode.OK)
        {
            var manifest = JsonNode.Parse(await latest.Content.ReadAsStringAsync())!;
            var bytes = await last.Client.GetByteArrayAsync($"/v1/snapshots/{manifest["id"]}/index.snap");
            Assert.Equal((string)manifest["files"]![0]!["sha256"]!, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }
    }

    [Fact]
    public async Task A_snapshot_write_that_fails_is_tried_again_after_longer_and_longer_waits_not_at_every_check()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = await StartAsync(database, every: 1);
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        await SubmitAsync(client, signer, 2);
        await LatestAsync(client, 2);

        // The folder turned into a file: every write fails from now on (as on a full disk), checked every 100 ms.
        Directory.Delete(SnapshotPath, recursive: true);
        await File.WriteAllTextAsync(SnapshotPath, "not a folder");
        await SubmitAsync(client, signer, 1, from: 2);
        static bool Failed(string line) => line.Contains("Writing an index snapshot failed", StringComparison.Ordinal);
        await Eventually.HoldsAsync(() => app.Logs.Any(Failed), "a failed snapshot write");
        await Task.Delay(TimeSpan.FromSeconds(3));

        // Waits of 0.2, 0.4, 0.8 and 1.6 s: at most five tries in those 3 s (thirty at every check).
        Assert.InRange(app.Logs.Count(Failed), 2, 5);
        Assert.Contains(app.Logs, line => Failed(line) && line.Contains("(2 in a row); trying again in 00:00:00.4", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(30, 1, 60)]
    [InlineData(30, 6, 1920)]
    [InlineData(30, 7, 3600)]
    [InlineData(30, 1000, 3600)]
    public void The_wait_after_failed_writes_doubles_from_the_check_interval_up_to_an_hour(int checkSeconds, int failures, int waitSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(waitSeconds), Api.Snapshots.SnapshotScheduler.RetryWait(TimeSpan.FromSeconds(checkSeconds), failures));

    private async Task<RegistryApp> StartAsync(TestDatabase database, long every = 5, int keep = 3)
    {
        var app = new RegistryApp(database, new Dictionary<string, string?>
        {
            ["Registry:Signing:KeyPath"] = KeyPath,
            ["Registry:Snapshots:Path"] = SnapshotPath,
            ["Registry:Snapshots:EveryLogEntries"] = every.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Registry:Snapshots:Keep"] = keep.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Registry:Snapshots:CheckInterval"] = "00:00:00.1",
        });
        app.StartServer();
        await app.WaitUntilReadyAsync();
        return app;
    }

    private static async Task<List<string>> SubmitAsync(HttpClient client, TestSigner signer, int count, int from = 0)
    {
        var ids = new List<string>();
        for (var i = from; i < from + count; i++)
        {
            var jws = signer.OptOut($"https://snap.example/{i}.jpg");
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(jws))).StatusCode);
            ids.Add(TestSigner.IdOf(jws));
        }

        return ids;
    }

    /// <summary>Waits (up to 30 s) for a snapshot at <paramref name="minSeq"/> or later; its manifest and the text it came as.</summary>
    private static async Task<(JsonObject Manifest, string Text)> LatestAsync(HttpClient client, long minSeq)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var response = await client.GetAsync("/v1/snapshots/latest");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var text = await response.Content.ReadAsStringAsync();
                var manifest = JsonNode.Parse(text)!.AsObject();
                if ((long)manifest["seq"]! >= minSeq)
                {
                    return (manifest, text);
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"No snapshot at seq {minSeq} or later within 30 s.");
            await Task.Delay(50);
        }
    }

    private static async Task AssertAllOptedOutAsync(HttpClient client, IReadOnlyList<int> works)
    {
        foreach (var chunk in works.Chunk(1_000))
        {
            var results = await client.LookupItemsAsync([.. chunk.Select(i => (JsonNode)new JsonObject { ["url"] = $"https://snap.example/{i}.jpg" })]);
            Assert.Equal(chunk.Length, results.Length);
            Assert.All(results, result => Assert.Equal("disallow", result.GetProperty("decision").GetProperty("train-ai").GetString()));
        }
    }

    /// <summary>What /health/ready says the matching index started from.</summary>
    private static async Task<bool> StartedFromSnapshotAsync(HttpClient client)
    {
        var health = JsonNode.Parse(await client.GetStringAsync("/health/ready"))!;
        var description = (string)health["checks"]!["matching-index"]!["description"]!;
        Assert.Matches("started from (snapshot [0-9]{12}-[0-9]{8}T[0-9]{9}Z|the store)$", description);
        return description.Contains("started from snapshot", StringComparison.Ordinal);
    }

    private static byte[] Decode(string value) =>
        Convert.FromBase64String(value.Replace('-', '+').Replace('_', '/').PadRight(value.Length + ((4 - (value.Length % 4)) % 4), '='));

    [GeneratedRegex("^[0-9]{12}-[0-9]{8}T[0-9]{9}Z$")]
    private static partial Regex IdPattern();
}

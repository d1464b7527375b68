using System.Formats.Tar;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Cli;
using DuckDB.NET.Data;
using ConsentRegistry.TestSupport;
using SkiaSharp;
using static ConsentRegistry.Api.Tests.Cli.CliRun;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Cli;

/// <summary>
/// <c>consent-registry scan</c> over img2dataset output (a folder shard and a webdataset tar shard),
/// online against a running registry and offline from its snapshot: an image claimed by its PDQ
/// hash is excluded even re-encoded, one claimed by its URL too, the others are not, and images
/// that cannot be decoded are counted without stopping the scan.
/// </summary>
public sealed class ScanTests : IDisposable
{
    private const string ClaimedUrl = "https://artist.example/works/shapes.png";

    private readonly string _folder = Directory.CreateTempSubdirectory("scan-").FullName;

    private string Images => Path.Combine(_folder, "images");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Online_a_re_encoded_copy_of_an_image_claimed_by_pdq_and_an_image_claimed_by_url_are_excluded_and_nothing_else()
    {
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        var (pdqClaim, urlClaim) = await ClaimAsync(client);
        WriteDataset();

        var (code, errors) = await RunAsync("scan", Images, "--registry", client.BaseAddress!.ToString(), "--quiet");

        Assert.True(code == ExitCodes.Done, errors);
        AssertExclusions(pdqClaim, urlClaim);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(Images, "scan-summary.json")))!;
        Assert.Equal("registry", (string)summary["source"]!["kind"]!);
        Assert.Equal(5, (long)summary["totals"]!["images"]!);
        Assert.Equal(2, (long)summary["totals"]!["excluded"]!);
        Assert.Equal(1, (long)summary["shards"]!["00000"]!["undecodable"]!);
        Assert.Equal("000000002.jpg", (string)summary["shards"]!["00000"]!["errors"]![0]!["member"]!);
        Assert.False((bool)summary["shards"]!["00000"]!["incomplete"]!); // an image that does not decode is still looked up by SHA-256 and URL
        Assert.Equal(0, (int)summary["totals"]!["incomplete_shards"]!);
    }

    /// <summary>
    /// A scan sends its radius (31 by default) with every hash; a registry whose default is narrower
    /// takes 256 such searches a request, so the scan sends images 256 to a request (in one of
    /// 10,000 rows, the images past the 256th were answered too-many-wide-pdq and kept unlooked-up).
    /// </summary>
    [Fact]
    public async Task Online_against_a_registry_with_a_narrower_default_radius_every_image_of_a_large_shard_is_looked_up()
    {
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Matching:PdqMaxDistance"] = "24" });
        using var client = app.CreateClient();
        var (pdqClaim, _) = await ClaimAsync(client);
        var files = Directory.CreateDirectory(Path.Combine(Images, "00000")).FullName;
        for (var i = 0; i < 300; i++)
        {
            WriteSample(files, $"{i:D9}", ".jpg", Drawing(i), $"https://cdn.example/drawing-{i}.jpg");
        }

        WriteSample(files, "000000300", ".jpg", ReEncode(TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg"), quality: 55), "https://cdn.example/bridge.jpg");

        var (code, errors) = await RunAsync("scan", Images, "--registry", client.BaseAddress!.ToString(), "--quiet");

        Assert.True(code == ExitCodes.Done, errors);
        Assert.Equal([("000000300", "disallow", pdqClaim, "pdq")], Query(Path.Combine(Images, "00000.exclusions.parquet")));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(Images, "scan-summary.json")))!;
        Assert.Equal(301, (long)summary["totals"]!["images"]!);
        Assert.Equal(0, (int)summary["totals"]!["incomplete_shards"]!);
    }

    [Fact]
    public async Task Offline_from_the_registrys_snapshot_the_same_images_are_excluded()
    {
        var snapshots = Path.Combine(_folder, "snapshots");
        await using var app = await StartWithSnapshotsAsync(snapshots);
        using var client = app.CreateClient();
        var (pdqClaim, urlClaim) = await ClaimAsync(client);
        var snapshot = Path.Combine(snapshots, await SnapshotIdAsync(client, minSeq: 2));
        WriteDataset();

        var (code, errors) = await RunAsync("scan", Images, "--snapshot", snapshot, "--quiet");

        Assert.True(code == ExitCodes.Done, errors);
        AssertExclusions(pdqClaim, urlClaim);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(Images, "scan-summary.json")))!;
        Assert.Equal("snapshot", (string)summary["source"]!["kind"]!);
        Assert.True((long)summary["source"]!["seq"]! >= 2);
        Assert.Equal("domain", (string)summary["settings"]!["min_trust_for_grants"]!);

        // Offline, the trust at which a consent counts decides too: a resume with another is refused.
        var (refused, message) = await RunAsync("scan", Images, "--snapshot", snapshot, "--min-trust-for-grants", "reviewed", "--resume", "--quiet");
        Assert.Equal(ExitCodes.InputError, refused);
        Assert.Contains("--min-trust-for-grants domain; --resume continues it only with the same source and settings", message);
    }

    [Fact]
    public async Task Resume_skips_the_shards_whose_exclusions_are_written_and_scans_the_rest()
    {
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        var (pdqClaim, urlClaim) = await ClaimAsync(client);
        WriteDataset();
        var registry = client.BaseAddress!.ToString();
        Assert.Equal(ExitCodes.Done, (await RunAsync("scan", Images, "--registry", registry, "--quiet")).Exit);
        var first = Path.Combine(Images, "00000.exclusions.parquet");
        var written = File.GetLastWriteTimeUtc(first);
        File.Delete(Path.Combine(Images, "00001.exclusions.parquet"));

        var (code, errors) = await RunAsync("scan", Images, "--registry", registry, "--resume", "--quiet");

        Assert.True(code == ExitCodes.Done, errors);
        Assert.Equal(written, File.GetLastWriteTimeUtc(first));
        AssertExclusions(pdqClaim, urlClaim);

        // Other settings than the interrupted run's are refused rather than mixed into its output.
        var (refused, message) = await RunAsync("scan", Images, "--registry", registry, "--resume", "--use", "search", "--quiet");
        Assert.Equal(ExitCodes.InputError, refused);
        Assert.Contains("--resume continues it only with the same source and settings", message);
    }

    [Fact]
    public async Task With_embeddings_a_picture_claimed_only_by_its_vector_is_excluded_online_and_offline_and_a_cropped_copy_at_a_lower_threshold()
    {
        var registry = await StartWithClaimedEmbeddingAsync();
        await using var app = registry.App;
        using var client = app.CreateClient();
        var (claimId, snapshot) = (registry.ClaimId, registry.Snapshot);
        var exclusions = Path.Combine(Images, "00000.exclusions.parquet");

        var (code, errors) = await RunAsync("scan", Images, "--registry", client.BaseAddress!.ToString(), "--embeddings", "--quiet");

        Assert.True(code == ExitCodes.Done, errors);
        Assert.Equal([("000000000", "disallow", claimId, "embedding")], Query(exclusions));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(Images, "scan-summary.json")))!;
        Assert.Equal("resnet18-gem-v2", (string)summary["settings"]!["embedding_model"]!);

        (code, errors) = await RunAsync("scan", Images, "--snapshot", snapshot, "--embeddings", "--min-similarity", "0.8", "--quiet");

        Assert.True(code == ExitCodes.Done, errors);
        Assert.Equal([("000000000", "disallow", claimId, "embedding"), ("000000001", "disallow", claimId, "embedding")], Query(exclusions));

        // Vectors of another model are never compared: the scan stops before it starts, saying so.
        var otherModel = Path.Combine(_folder, "other-model.json");
        File.WriteAllText(otherModel, """{ "Id": "another-model-v1" }""");
        var (online, onlineMessage) = await RunAsync("scan", Images, "--registry", client.BaseAddress!.ToString(), "--embeddings", "--embedding-model", otherModel);
        Assert.Equal(ExitCodes.InputError, online);
        Assert.Contains("does not compare this scan's vectors ('another-model-v1'", onlineMessage);
        var (offline, offlineMessage) = await RunAsync("scan", Images, "--snapshot", snapshot, "--embeddings", "--embedding-model", otherModel);
        Assert.Equal(ExitCodes.InputError, offline);
        Assert.Contains("The snapshot's claims carry vectors of 'resnet18-gem-v2'", offlineMessage);
    }

    /// <summary>
    /// The command as a builder installs it (README): packed, installed from the folder, run by
    /// name. The package is the one that carries ONNX Runtime's native library and the model, so
    /// this is where a package that lost them would show.
    /// </summary>
    [Fact]
    public async Task The_packed_and_installed_tool_finds_a_copy_by_its_embedding_from_a_snapshot()
    {
        var registry = await StartWithClaimedEmbeddingAsync();
        await using var app = registry.App;
        using var client = app.CreateClient();
        var (claimId, snapshot) = (registry.ClaimId, registry.Snapshot);
        var packages = Path.Combine(_folder, "packages");
        var tools = Path.Combine(_folder, "tools");

        var packed = await RunProgramAsync("dotnet",
            ["pack", Path.Combine(RepositoryPaths.Root, "src", "ConsentRegistry.Cli"), "-c", "Release", "-o", packages, "--nologo", "-v", "quiet"], TimeSpan.FromMinutes(5));
        Assert.True(packed.Exit == 0, packed.Out + packed.Errors);
        var installed = await RunProgramAsync("dotnet",
            ["tool", "install", "--tool-path", tools, "--add-source", packages, "consent-registry"], TimeSpan.FromMinutes(2), workingDirectory: _folder);
        Assert.True(installed.Exit == 0, installed.Out + installed.Errors);
        var scanned = await RunProgramAsync(Path.Combine(tools, "consent-registry"),
            ["scan", Images, "--snapshot", snapshot, "--embeddings", "--quiet"], TimeSpan.FromMinutes(2));

        Assert.True(scanned.Exit == ExitCodes.Done, scanned.Errors);
        Assert.Equal([("000000000", "disallow", claimId, "embedding")], Query(Path.Combine(Images, "00000.exclusions.parquet")));
        Assert.Contains(Directory.EnumerateFiles(tools, "*.onnx", SearchOption.AllDirectories), path => path.EndsWith("ResNet18.onnx", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Embedding_options_are_checked_before_anything_is_scanned()
    {
        var (usage, usageMessage) = await RunAsync("scan", Images, "--snapshot", "x.snap", "--min-similarity", "0.9");
        Assert.Equal(ExitCodes.Usage, usage);
        Assert.Contains("go with --embeddings", usageMessage);
        Assert.Equal(ExitCodes.Usage, (await RunAsync("scan", Images, "--snapshot", "x.snap", "--embeddings", "--min-similarity", "0.2")).Exit);
        Assert.Equal(ExitCodes.Usage, (await RunAsync("scan", Images, "--snapshot", "x.snap", "--embeddings", "--device", "tpu")).Exit);

        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        WriteDataset();
        var registry = client.BaseAddress!.ToString();

        // This build runs ONNX Runtime on the CPU only: cuda is refused, never replaced by the CPU.
        var (cuda, cudaMessage) = await RunAsync("scan", Images, "--registry", registry, "--embeddings", "--device", "cuda");
        Assert.Equal(ExitCodes.Usage, cuda);
        Assert.Contains("-p:EmbeddingDevice=cuda", cudaMessage);

        var config = Path.Combine(_folder, "model.json");
        File.WriteAllText(config, """{ "Id": "sscd-v1", "ModelPath": "sscd.onnx", "InputSize": 320 }""");
        var (missing, missingMessage) = await RunAsync("scan", Images, "--registry", registry, "--embeddings", "--embedding-model", config);
        Assert.Equal(ExitCodes.InputError, missing);
        Assert.Contains($"The embedding model file '{Path.Combine(_folder, "sscd.onnx")}' does not exist", missingMessage);

        File.WriteAllText(Path.Combine(_folder, "not-a-model.onnx"), "<html>not found</html>");
        File.WriteAllText(config, """{ "Id": "sscd-v1", "ModelPath": "not-a-model.onnx" }""");
        var (garbage, garbageMessage) = await RunAsync("scan", Images, "--registry", registry, "--embeddings", "--embedding-model", config);
        Assert.Equal(ExitCodes.InputError, garbage);
        Assert.Contains("could not be loaded", garbageMessage);

        File.WriteAllText(config, """{ "Id": "sscd-v1", "ModelPth": "sscd.onnx" }""");
        var (typo, typoMessage) = await RunAsync("scan", Images, "--registry", registry, "--embeddings", "--embedding-model", config);
        Assert.Equal(ExitCodes.InputError, typo);
        Assert.Contains("ModelPth", typoMessage);
        Assert.False(File.Exists(Path.Combine(Images, "00000.exclusions.parquet")));
    }

    [Fact]
    public async Task A_scan_stopped_by_ctrl_c_exits_130_and_resumed_writes_what_one_run_writes()
    {
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        var registry = client.BaseAddress!.ToString();
        const int shards = 8, perShard = 12;
        var once = Path.Combine(_folder, "once");
        var resumed = Path.Combine(_folder, "resumed");
        var claimed = new List<string>();
        using var signer = new TestSigner();
        for (var shard = 0; shard < shards; shard++)
        {
            for (var i = 0; i < perShard; i++)
            {
                var image = Drawing(shard * perShard + i);
                var key = $"{shard:D5}{i:D4}";
                foreach (var root in new[] { once, resumed })
                {
                    WriteSample(Directory.CreateDirectory(Path.Combine(root, $"{shard:D5}")).FullName, key, ".jpg", image, $"https://mirror.example/{key}.jpg");
                }

                if (i % 5 == 0)
                {
                    var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(image));
                    var claim = signer.Sign(TestSigner.Claim([TestSigner.Subject("sha256", sha256)], new JsonObject { ["train-ai"] = "n" }));
                    Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(claim))).StatusCode);
                    claimed.Add(key);
                }
            }
        }

        // Embedding makes each shard take a while, so that the stop comes between shards.
        var (exit, errors) = await RunAsync("scan", once, "--registry", registry, "--embeddings", "--quiet");
        Assert.True(exit == ExitCodes.Done, errors);

        var state = Path.Combine(resumed, ".consent-registry-scan.json");
        using (var process = Start("scan", resumed, "--registry", registry, "--embeddings", "--threads", "1", "--quiet"))
        {
            StopWhen(process, state, json => ShardsDone(json) >= 1, "a finished shard");
            Interrupt(process);
            await process.WaitForExitAsync();
            Assert.Equal(ExitCodes.Interrupted, process.ExitCode);
        }

        Assert.InRange(ShardsDone(ReadState(state)!), 1, shards - 1);
        (exit, errors) = await RunAsync("scan", resumed, "--registry", registry, "--embeddings", "--resume", "--quiet");
        Assert.True(exit == ExitCodes.Done, errors);

        var found = new List<string>();
        for (var shard = 0; shard < shards; shard++)
        {
            var name = $"{shard:D5}.exclusions.parquet";
            var (a, b) = (Query(Path.Combine(once, name)), Query(Path.Combine(resumed, name)));
            Assert.Equal(a, b);
            found.AddRange(a.Select(row => row.Key));
        }

        Assert.Equal(claimed, found);
    }

    [Fact]
    public async Task A_missing_folder_or_one_without_shards_is_an_input_error()
    {
        var (missing, missingMessage) = await RunAsync("scan", Path.Combine(_folder, "nowhere"), "--snapshot", Path.Combine(_folder, "none.snap"));
        Assert.Equal(ExitCodes.InputError, missing);
        Assert.Contains("no such folder", missingMessage);

        Directory.CreateDirectory(Path.Combine(_folder, "empty"));
        var (empty, emptyMessage) = await RunAsync("scan", Path.Combine(_folder, "empty"), "--snapshot", Path.Combine(_folder, "none.snap"));
        Assert.Equal(ExitCodes.InputError, empty);
        Assert.Contains("no img2dataset shard found", emptyMessage);

        var (usage, _) = await RunAsync("scan", Images, "--snapshot", "x.snap", "--max-distance", "64");
        Assert.Equal(ExitCodes.Usage, usage);
    }

    [Theory]
    [InlineData('L', "77777777777")] // a GNU long name said to be 8 GiB: TarReader throws InvalidOperationException
    [InlineData('S', "00000000000")] // a GNU sparse member: NotSupportedException
    public async Task A_tar_shard_the_tar_reader_cannot_read_past_a_header_ends_there_and_the_other_shards_are_scanned(char typeFlag, string size)
    {
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        var (_, urlClaim) = await ClaimAsync(client);
        Directory.CreateDirectory(Images);
        using (var tar = new TarWriter(File.Create(Path.Combine(Images, "00000.tar")), TarEntryFormat.Pax))
        {
            WriteTarSample(tar, "000000000", ".png", TestImages.ReadPdqData("generated/shapes-a.png"), ClaimedUrl);
        }

        // Shard 00001: one sample, then a header the reader refuses, then the tar's end.
        var broken = new MemoryStream();
        using (var tar = new TarWriter(broken, TarEntryFormat.Pax, leaveOpen: true))
        {
            WriteTarSample(tar, "000010000", ".png", TestImages.ReadPdqData("generated/wave-odd-size.png"), "https://cdn.example/wave.png");
        }

        broken.SetLength(broken.Length - 1024); // the two empty blocks that end a tar
        File.WriteAllBytes(Path.Combine(Images, "00001.tar"), [.. broken.ToArray(), .. GnuHeader("././@LongLink", typeFlag, size), .. new byte[2048]]);

        var (code, errors) = await RunAsync("scan", Images, "--registry", client.BaseAddress!.ToString(), "--quiet");

        // The other shard is scanned and written, but the run fails: what follows the header went unscanned.
        Assert.True(code == ExitCodes.InputError, errors);
        Assert.Contains("1 shard(s) could not be scanned in full (00001.tar)", errors, StringComparison.Ordinal);
        Assert.Single(errors.TrimEnd().Split('\n'));
        Assert.Equal([("000000000", "disallow", urlClaim, "url")], Query(Path.Combine(Images, "00000.exclusions.parquet")));
        Assert.Empty(Query(Path.Combine(Images, "00001.exclusions.parquet")));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(Images, "scan-summary.json")))!;
        Assert.Equal(2, (long)summary["totals"]!["images"]!);
        Assert.Equal(1, (int)summary["totals"]!["incomplete_shards"]!);
        Assert.True((bool)summary["shards"]!["00001.tar"]!["incomplete"]!);
        Assert.False((bool)summary["shards"]!["00000.tar"]!["incomplete"]!);
        var error = Assert.Single(summary["shards"]!["00001.tar"]!["errors"]!.AsArray())!;
        Assert.Equal("00001.tar", (string)error["member"]!);
        Assert.Contains("the tar is truncated or corrupt; the shard ends here", (string)error["error"]!);

        // A resume reads the incomplete shard again (and only it), and fails the same way while it is unchanged.
        (code, errors) = await RunAsync("scan", Images, "--registry", client.BaseAddress!.ToString(), "--resume");
        Assert.True(code == ExitCodes.InputError, errors);
        Assert.Contains("00001.tar: 1 images", errors, StringComparison.Ordinal);
        Assert.DoesNotContain("00000.tar:", errors, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nowhere.tar")] // a link to nothing: not found
    [InlineData("00002.tar")] // a link to itself: too many levels of links (ELOOP), even for root
    public async Task A_tar_shard_that_cannot_be_opened_is_listed_among_its_errors_and_the_other_shards_are_scanned(string linkTarget)
    {
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        var (pdqClaim, urlClaim) = await ClaimAsync(client);
        WriteDataset();
        var unopenable = Path.Combine(Images, "00002.tar");
        File.CreateSymbolicLink(unopenable, linkTarget);

        var (code, errors) = await RunAsync("scan", Images, "--registry", client.BaseAddress!.ToString(), "--quiet");

        Assert.True(code == ExitCodes.InputError, errors);
        Assert.Contains("1 shard(s) could not be scanned in full (00002.tar)", errors, StringComparison.Ordinal);
        AssertExclusions(pdqClaim, urlClaim);
        Assert.Empty(Query(Path.Combine(Images, "00002.exclusions.parquet")));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(Images, "scan-summary.json")))!;
        Assert.Equal(5, (long)summary["totals"]!["images"]!);
        var error = Assert.Single(summary["shards"]!["00002.tar"]!["errors"]!.AsArray())!;
        Assert.Equal("00002.tar", (string)error["member"]!);
        Assert.Contains("the tar cannot be opened; the shard ends here", (string)error["error"]!);

        // Once it can be read, a resume scans it (and only it).
        File.Delete(unopenable);
        using (var tar = new TarWriter(File.Create(unopenable), TarEntryFormat.Pax))
        {
            WriteTarSample(tar, "000020000", ".png", TestImages.ReadPdqData("generated/shapes-a.png"), ClaimedUrl);
        }

        (code, errors) = await RunAsync("scan", Images, "--registry", client.BaseAddress!.ToString(), "--resume", "--quiet");
        Assert.True(code == ExitCodes.Done, errors);
        Assert.Equal([("000020000", "disallow", urlClaim, "url")], Query(Path.Combine(Images, "00002.exclusions.parquet")));
        summary = JsonNode.Parse(File.ReadAllText(Path.Combine(Images, "scan-summary.json")))!;
        Assert.Equal(6, (long)summary["totals"]!["images"]!);
        Assert.Equal(0, (int)summary["totals"]!["incomplete_shards"]!);
        Assert.Equal(1, (long)summary["totals"]!["errors"]!); // shard 00000's file that is not an image; 00002's error went with its old record
    }

    [Fact]
    public async Task An_image_whose_sidecar_is_valid_JSON_but_no_text_is_still_looked_up_by_its_hashes_in_a_folder_and_in_a_tar()
    {
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        var (pdqClaim, urlClaim) = await ClaimAsync(client);
        WriteDataset();

        // JSON may escape a lone surrogate; it is no text, and System.Text.Json refuses to read it as a string.
        var sidecar = """{"key":"000000000","url":"\ud800"}"""u8.ToArray();
        File.WriteAllBytes(Path.Combine(Images, "00000", "000000000.json"), sidecar);
        using (var tar = new TarWriter(File.Create(Path.Combine(Images, "00002.tar")), TarEntryFormat.Pax))
        {
            var copy = ReEncode(TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg"), quality: 70);
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "000020000.jpg") { DataStream = new MemoryStream(copy) });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "000020000.json") { DataStream = new MemoryStream(sidecar) });
        }

        var (code, errors) = await RunAsync("scan", Images, "--registry", client.BaseAddress!.ToString(), "--quiet");

        Assert.True(code == ExitCodes.Done, errors);
        Assert.Equal([("000000000", "disallow", pdqClaim, "pdq")], Query(Path.Combine(Images, "00000.exclusions.parquet")));
        Assert.Equal([("000010000", "disallow", urlClaim, "url")], Query(Path.Combine(Images, "00001.exclusions.parquet")));
        Assert.Equal([("000020000", "disallow", pdqClaim, "pdq")], Query(Path.Combine(Images, "00002.exclusions.parquet")));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(Images, "scan-summary.json")))!;
        Assert.Equal(0, (int)summary["totals"]!["incomplete_shards"]!);
        foreach (var (shard, member) in new[] { ("00000", "000000000.json"), ("00002.tar", "000020000.json") })
        {
            var error = Assert.Single(summary["shards"]![shard]!["errors"]!.AsArray(), e => (string)e!["member"]! == member)!;
            Assert.Contains("sidecar is not usable JSON", (string)error["error"]!, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_shard_reached_twice_through_a_link_to_its_folder_is_refused_before_anything_is_scanned()
    {
        WriteDataset();
        var sub = Directory.CreateDirectory(Path.Combine(Images, "sub")).FullName;
        File.Copy(Path.Combine(Images, "00001.tar"), Path.Combine(sub, "00002.tar"));
        Directory.CreateSymbolicLink(Path.Combine(Images, "alias"), sub);

        var (code, errors) = await RunAsync("scan", Images, "--registry", "http://127.0.0.1:1", "--quiet");

        Assert.True(code == ExitCodes.InputError, errors);
        Assert.Contains($"alias/00002.tar and sub/00002.tar would share {Path.Combine(sub, "00002.exclusions.parquet")} through a symbolic link", errors, StringComparison.Ordinal);
        Assert.Single(errors.TrimEnd().Split('\n'));
        Assert.Empty(Directory.GetFiles(Images, "*.parquet", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData("mirror", "00000")] // a link to a shard folder
    [InlineData("00009.tar", "00001.tar")] // a link to a tar shard
    public async Task A_link_that_is_itself_another_shard_is_refused_before_anything_is_scanned(string link, string shard)
    {
        WriteDataset();
        var target = Path.Combine(Images, shard);
        if (Directory.Exists(target))
        {
            Directory.CreateSymbolicLink(Path.Combine(Images, link), target);
        }
        else
        {
            File.CreateSymbolicLink(Path.Combine(Images, link), target);
        }

        var (code, errors) = await RunAsync("scan", Images, "--registry", "http://127.0.0.1:1", "--quiet");

        Assert.True(code == ExitCodes.InputError, errors);
        Assert.Contains($"are one shard through a symbolic link (both are {target})", errors, StringComparison.Ordinal);
        Assert.Single(errors.TrimEnd().Split('\n'));
        Assert.Empty(Directory.GetFiles(Images, "*.parquet", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_shard_folder_named_with_a_trailing_separator_gets_the_exclusions_file_named_after_it()
    {
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        var (pdqClaim, _) = await ClaimAsync(client);
        WriteDataset();
        var shard = Path.Combine(Images, "00000");

        var (code, errors) = await RunAsync("scan", shard + Path.DirectorySeparatorChar, "--registry", client.BaseAddress!.ToString(), "--quiet");

        Assert.True(code == ExitCodes.Done, errors);
        Assert.Equal([("000000000", "disallow", pdqClaim, "pdq")], Query(Path.Combine(shard, "00000.exclusions.parquet")));
        Assert.False(File.Exists(Path.Combine(shard, ".exclusions.parquet")));
    }

    [Fact]
    public async Task A_dataset_folder_that_refuses_the_scans_state_file_is_an_input_error_naming_it()
    {
        // Tests may run as root, whom a read-only folder does not stop: a folder where the state
        // file goes refuses it as surely.
        WriteDataset();
        var state = Directory.CreateDirectory(Path.Combine(Images, ".consent-registry-scan.json")).FullName;
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();

        var (code, errors) = await RunAsync("scan", Images, "--registry", client.BaseAddress!.ToString(), "--quiet");

        Assert.True(code == ExitCodes.InputError, errors);
        Assert.StartsWith($"consent-registry: cannot write {state}: ", errors, StringComparison.Ordinal);
        Assert.Single(errors.TrimEnd().Split('\n'));
        Assert.Empty(Directory.GetFiles(Images, "*.tmp"));
    }

    /// <summary>A 256×256 JPEG of coloured rectangles, different for every <paramref name="seed"/>.</summary>
    private static byte[] Drawing(int seed)
    {
        var random = new Random(seed);
        using var bitmap = new SKBitmap(256, 256);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(new SKColor((uint)random.Next() | 0xFF000000));
            for (var i = 0; i < 12; i++)
            {
                using var paint = new SKPaint { Color = new SKColor((uint)random.Next() | 0xFF000000) };
                canvas.DrawRect(random.Next(0, 200), random.Next(0, 200), random.Next(20, 120), random.Next(20, 120), paint);
            }
        }

        return TestImages.Encode(bitmap, SKEncodedImageFormat.Jpeg, quality: 90);
    }

    private static int ShardsDone(JsonNode state) => state["shards"]!.AsObject().Count(shard => (bool)shard.Value!["done"]!);

    private static byte[] Original => TestImages.ReadPdqData("reg-test-input/dih/bridge-1-original.jpg");

    /// <summary>A registry that writes a snapshot after every log entry into <paramref name="snapshots"/> (and builds its vector index from <paramref name="minVectors"/> vectors, when given).</summary>
    private static Task<RegistryApp> StartWithSnapshotsAsync(string snapshots, string? minVectors = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Registry:Snapshots:Path"] = snapshots,
            ["Registry:Snapshots:EveryLogEntries"] = "1",
            ["Registry:Snapshots:CheckInterval"] = "00:00:00.1",
        };
        if (minVectors is not null)
        {
            settings["Registry:Matching:VectorIndex:MinVectors"] = minVectors;
        }

        return RegistryApp.StartAsync(settings);
    }

    /// <summary>
    /// A registry holding a claim on the embedding of <see cref="Original"/> only, the snapshot that
    /// has it with its vector index (built from the first vector), and the copies of
    /// <see cref="WriteCopies"/> in shard 00000.
    /// </summary>
    private async Task<(RegistryApp App, string ClaimId, string Snapshot)> StartWithClaimedEmbeddingAsync()
    {
        var snapshots = Path.Combine(_folder, "snapshots");
        var app = await StartWithSnapshotsAsync(snapshots, minVectors: "1");
        using var client = app.CreateClient();
        var claimId = await ClaimEmbeddingAsync(client, Original);
        var snapshot = Path.Combine(snapshots, await SnapshotIdAsync(client, minSeq: 1));
        WriteCopies();
        return (app, claimId, snapshot);
    }

    /// <summary>A claim whose only subject is the embedding POST /v1/images gives <paramref name="image"/>; its id.</summary>
    private static async Task<string> ClaimEmbeddingAsync(HttpClient client, byte[] image)
    {
        var embedding = (await client.HashImageAsync(image)).GetProperty("embeddings")[0];
        using var signer = new TestSigner();
        var claim = signer.Sign(TestSigner.Claim(
            [new JsonObject { ["kind"] = "embedding", ["model"] = embedding.GetProperty("model").GetString(), ["value"] = embedding.GetProperty("value").GetString() }],
            new JsonObject { ["train-ai"] = "n" }));
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(claim))).StatusCode);
        return TestSigner.IdOf(claim);
    }

    /// <summary>
    /// Shard 00000 of copies of <see cref="Original"/>: the picture losslessly (similarity above the
    /// default 0.98), a smaller JPEG of it (below that), and another picture.
    /// </summary>
    private void WriteCopies()
    {
        using var decoded = SKBitmap.Decode(Original);
        using var cropped = TestImages.CentreCrop(decoded, 0.9); // about 0.93 alike: found at 0.8, not at the default 0.98
        var files = Directory.CreateDirectory(Path.Combine(Images, "00000")).FullName;
        WriteSample(files, "000000000", ".png", TestImages.Encode(decoded, SKEncodedImageFormat.Png), "https://mirror.example/bridge.png");
        WriteSample(files, "000000001", ".jpg", TestImages.Encode(cropped, SKEncodedImageFormat.Jpeg, quality: 90), "https://mirror.example/bridge-cropped.jpg");
        WriteSample(files, "000000002", ".jpg", TestImages.ReadPdqData("reg-test-input/labelme-subset/q0122.jpg"), "https://mirror.example/other.jpg");
    }

    /// <summary>A claim on the PDQ hash of the bridge picture (as POST /v1/images gives it) and one on a URL; their ids.</summary>
    private static async Task<(string Pdq, string Url)> ClaimAsync(HttpClient client)
    {
        var hashed = await client.HashImageAsync(TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg"), "?embeddings=false");
        using var signer = new TestSigner();
        var byPdq = signer.Sign(TestSigner.Claim([TestSigner.Subject("pdq", hashed.GetProperty("pdq").GetString()!)], new JsonObject { ["train-ai"] = "n" }));
        var byUrl = signer.OptOut(ClaimedUrl);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(byPdq))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(byUrl))).StatusCode);
        return (TestSigner.IdOf(byPdq), TestSigner.IdOf(byUrl));
    }

    /// <summary>
    /// img2dataset output: shard 00000 as files (the claimed picture re-encoded at another JPEG
    /// quality, an unrelated one, a file that is not an image), shard 00001 as a webdataset tar
    /// (the picture whose URL is claimed, an unrelated one), with sidecars, captions and stats.
    /// </summary>
    private void WriteDataset()
    {
        var files = Directory.CreateDirectory(Path.Combine(Images, "00000")).FullName;
        WriteSample(files, "000000000", ".jpg", ReEncode(TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg"), quality: 55), "https://cdn.example/bridge.jpg");
        WriteSample(files, "000000001", ".png", TestImages.ReadPdqData("generated/plasma-5.png"), "https://cdn.example/plasma.png");
        WriteSample(files, "000000002", ".jpg", Encoding.ASCII.GetBytes("<html>not found</html>"), "https://cdn.example/gone.jpg");
        File.WriteAllText(Path.Combine(Images, "00000_stats.json"), """{"count": 3, "successes": 3}""");

        using (var tar = new TarWriter(File.Create(Path.Combine(Images, "00001.tar")), TarEntryFormat.Pax))
        {
            WriteTarSample(tar, "000010000", ".png", TestImages.ReadPdqData("generated/shapes-a.png"), ClaimedUrl);
            WriteTarSample(tar, "000010001", ".png", TestImages.ReadPdqData("generated/wave-odd-size.png"), "https://cdn.example/wave.png");
        }

        File.WriteAllText(Path.Combine(Images, "00001_stats.json"), """{"count": 2, "successes": 2}""");
    }

    private static void WriteSample(string folder, string key, string extension, byte[] image, string url)
    {
        File.WriteAllBytes(Path.Combine(folder, key + extension), image);
        File.WriteAllText(Path.Combine(folder, key + ".json"), Sidecar(key, url));
        File.WriteAllText(Path.Combine(folder, key + ".txt"), "a caption");
    }

    private static void WriteTarSample(TarWriter tar, string key, string extension, byte[] image, string url)
    {
        foreach (var (name, bytes) in new[] { (key + extension, image), (key + ".json", Encoding.UTF8.GetBytes(Sidecar(key, url))), (key + ".txt", "a caption"u8.ToArray()) })
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes) });
        }
    }

    /// <summary>A tar header block in GNU format (magic <c>ustar  </c>) of <paramref name="typeFlag"/> whose size field says <paramref name="sizeOctal"/>.</summary>
    private static byte[] GnuHeader(string name, char typeFlag, string sizeOctal)
    {
        var header = new byte[512];
        void Put(int offset, string text) => Encoding.ASCII.GetBytes(text).CopyTo(header, offset);
        Put(0, name);
        Put(100, "0000644\0");
        Put(108, "0000000\0");
        Put(116, "0000000\0");
        Put(124, sizeOctal + "\0");
        Put(136, "00000000000\0");
        header[156] = (byte)typeFlag;
        Put(257, "ustar  \0");
        Put(148, "        ");
        Put(148, Convert.ToString(header.Sum(b => (int)b), 8).PadLeft(6, '0') + "\0 ");
        return header;
    }

    private static string Sidecar(string key, string url) =>
        new JsonObject { ["url"] = url, ["key"] = key, ["status"] = "success", ["caption"] = "a caption", ["error_message"] = null }.ToJsonString();

    private static byte[] ReEncode(byte[] jpeg, int quality)
    {
        using var bitmap = SKBitmap.Decode(jpeg);
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, quality);
        return data.ToArray();
    }

    private void AssertExclusions(string pdqClaim, string urlClaim)
    {
        var files = Query(Path.Combine(Images, "00000.exclusions.parquet"));
        var (key, trainAi, claims, by) = Assert.Single(files);
        Assert.Equal(("000000000", "disallow", pdqClaim, "pdq"), (key, trainAi, claims, by));

        var tar = Query(Path.Combine(Images, "00001.exclusions.parquet"));
        Assert.Equal([("000010000", "disallow", urlClaim, "url")], tar);

        // Where each excluded image is and its keys, for a builder who checks or appeals a decision.
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT member, url, length(sha256), length(pdq), pdq_quality FROM '{Path.Combine(Images, "00000.exclusions.parquet")}'
            UNION ALL SELECT member, url, length(sha256), length(pdq), pdq_quality FROM '{Path.Combine(Images, "00001.exclusions.parquet")}'
            ORDER BY member
            """;
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal(("000000000.jpg", "https://cdn.example/bridge.jpg", 64L, 64L), (reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3)));
        Assert.True(reader.GetInt32(4) >= 50);
        Assert.True(reader.Read());
        Assert.Equal(("000010000.png", ClaimedUrl), (reader.GetString(0), reader.GetString(1)));
        Assert.False(reader.Read());
    }

    private static List<(string Key, string TrainAi, string? Claims, string? By)> Query(string path)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT key, registry_train_ai, registry_claims, matched_by FROM '{path}' ORDER BY key";
        using var reader = command.ExecuteReader();
        var rows = new List<(string, string, string?, string?)>();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }

        return rows;
    }

    /// <summary>The id of the registry's newest snapshot at <paramref name="minSeq"/> or later, waiting up to 30 s for it.</summary>
    private static async Task<string> SnapshotIdAsync(HttpClient client, long minSeq)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var response = await client.GetAsync("/v1/snapshots/latest");
            if (response.StatusCode == HttpStatusCode.OK && await response.Content.ReadFromJsonAsync<JsonObject>() is { } manifest && (long)manifest["seq"]! >= minSeq)
            {
                return (string)manifest["id"]!;
            }

            Assert.True(DateTime.UtcNow < deadline, $"No snapshot at seq {minSeq} or later within 30 s.");
            await Task.Delay(50);
        }
    }
}

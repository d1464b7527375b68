using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Core.Snapshots;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Cli.CliRun;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Cli;

/// <summary>
/// <c>consent-registry filter</c> on LAION-like Parquet made here with DuckDB (nullable columns, a
/// nested list, several row groups), online against a registry on loopback and offline from its
/// snapshot: the same rows kept and removed, an output DuckDB reads with the input's schema, a
/// resume after kill -9 equal to one run, and one clear line with the documented exit code for
/// each bad input.
/// </summary>
public sealed class FilterTests : IDisposable
{
    private const int Rows = 5_000;

    private readonly string _folder = Directory.CreateTempSubdirectory("cli-filter-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string In(string name) => Path.Combine(_folder, name);

    /// <summary>Row i's URL: 50 hosts, some rows not URLs at all, some with none.</summary>
    private static string? UrlOf(int i) => i % 113 == 0 ? null : i % 97 == 0 ? "not a url" : i % 89 == 0 ? "" : $"https://art{i % 50}.example/works/{i}.jpg";

    /// <summary>Opted out of train-ai: a tenth by URL, a whole gallery by prefix, a whole site by host.</summary>
    private static bool OptedOut(int i) => UrlOf(i) is { } url && url.StartsWith("https://", StringComparison.Ordinal) && (i % 10 == 3 || i % 50 == 7 || i % 50 == 11);

    /// <summary>Opted out of train-genai only (train-ai stays unknown).</summary>
    private static bool GenAiOnly(int i) => UrlOf(i) is { } url && url.StartsWith("https://", StringComparison.Ordinal) && i % 50 == 17 && !OptedOut(i);

    [Fact]
    public async Task Online_and_offline_filtering_keep_and_remove_the_same_rows_and_DuckDB_reads_the_input_schema_back()
    {
        var snapshots = In("snapshots");
        await using var app = await StartRegistryAsync(snapshots);
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var byUrl = await SubmitAsync(client, signer, Enumerable.Range(0, Rows).Where(i => i % 10 == 3 && OptedOut(i)).Select(i => TestSigner.Url(UrlOf(i)!)), "train-ai");
        var byPrefix = await SubmitAsync(client, signer, [TestSigner.Subject("url-prefix", "https://art7.example/works/")], "train-ai");
        var byHost = await SubmitAsync(client, signer, [TestSigner.Subject("host", "art11.example")], "train-ai");
        await SubmitAsync(client, signer, [TestSigner.Subject("host", "art17.example")], "train-genai");
        var seq = (await (await client.PostAsync("/v1/lookup", JsonContent("""{"items":[{"url":"https://art1.example/"}]}"""))).JsonAsync()).GetProperty("seq").GetInt64();
        var snapshot = await SnapshotAtAsync(client, snapshots, seq);

        var input = In("laion.parquet");
        MakeInput(input, Rows);
        var (online, offline) = (In("online"), In("offline"));
        var (exit, errors) = await RunAsync("filter", input, "--out", online, "--registry", client.BaseAddress!.ToString(), "--removed", "-q");
        Assert.True(exit == 0, errors);
        (exit, errors) = await RunAsync("filter", input, "--out", offline, "--snapshot", snapshot, "--removed", "-q");
        Assert.True(exit == 0, errors);

        var expectedRemoved = Enumerable.Range(0, Rows).Where(OptedOut).Select(i => (long)i).ToList();
        var expectedKept = Enumerable.Range(0, Rows).Where(i => !OptedOut(i)).Select(i => (long)i).ToList();
        foreach (var output in new[] { online, offline })
        {
            var kept = Path.Combine(output, "laion.parquet");
            var removed = Path.Combine(output, "removed", "laion.parquet");
            Assert.Equal(Describe(input), Describe(kept));
            Assert.Equal(expectedKept, SampleIds(kept));
            Assert.Equal(expectedRemoved, SampleIds(removed));

            // Every column came through, nulls and the nested list included.
            Assert.Equal(expectedKept.Count(i => i % 3 != 0), Count($"SELECT count(TEXT) FROM '{kept}'"));
            Assert.Equal(expectedKept.Sum(i => i % 4), Count($"SELECT sum(len(tags)) FROM '{kept}'"));
            // Every column of every kept row as the input has it, both ways (EXCEPT ALL counts a NULL for a value as a difference; <> does not).
            var inputsKept = $"SELECT * FROM '{input}' WHERE SAMPLE_ID IN (SELECT SAMPLE_ID FROM '{kept}')";
            Assert.Equal(0, Count($"SELECT count(*) FROM (SELECT * FROM '{kept}' EXCEPT ALL {inputsKept})"));
            Assert.Equal(0, Count($"SELECT count(*) FROM ({inputsKept} EXCEPT ALL SELECT * FROM '{kept}')"));

            // The kept file has the input's key-value metadata; the removed one less the Arrow schema, which would not list its added columns.
            Assert.Equal(["ARROW:schema", "origin"], MetadataKeys(kept));
            Assert.Equal(["origin"], MetadataKeys(removed));

            // Removed rows carry the decision per category and the claim that decided them.
            Assert.Equal([.. Describe(input), ("registry_tdm", "VARCHAR"), ("registry_train_ai", "VARCHAR"), ("registry_train_genai", "VARCHAR"), ("registry_ai_use", "VARCHAR"), ("registry_search", "VARCHAR"), ("registry_claims", "VARCHAR")], Describe(removed));
            Assert.Equal(0, Count($"SELECT count(*) FROM '{removed}' WHERE registry_train_ai <> 'disallow' OR registry_train_genai <> 'disallow' OR registry_search <> 'unknown'"));
            Assert.Equal(expectedRemoved.Count(i => i % 50 == 7), Count($"SELECT count(*) FROM '{removed}' WHERE registry_claims LIKE '%{byPrefix}%'"));
            Assert.Equal(expectedRemoved.Count(i => i % 50 == 11), Count($"SELECT count(*) FROM '{removed}' WHERE registry_claims LIKE '%{byHost}%'"));
            Assert.Equal(expectedRemoved.Count(i => i % 10 == 3), Count($"SELECT count(*) FROM '{removed}' WHERE registry_claims LIKE '%{byUrl}%'"));

            var summary = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "filter-summary.json")))!;
            Assert.Equal(Rows, (long)summary["totals"]!["rows"]!);
            Assert.Equal(expectedRemoved.Count, (long)summary["totals"]!["removed"]!);
            Assert.Equal(Enumerable.Range(0, Rows).Count(i => UrlOf(i) is null or "not a url" or ""), (long)summary["totals"]!["invalid_urls"]!); // an empty URL is none, online and offline
            Assert.Equal("train-ai", (string)summary["use"]!);
            Assert.True((long)summary["source"]!["seq"]! >= seq);
        }

        var source = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(offline, "filter-summary.json")))!["source"]!;
        Assert.Equal(("snapshot", Path.GetFileName(snapshot)), ((string)source["kind"]!, (string)source["snapshot"]!));
        Assert.Equal(client.BaseAddress!.ToString(), (string)JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(online, "filter-summary.json")))!["source"]!["registry"]!);

        // Another use: train-genai inherits train-ai's opt-outs and adds its own.
        (exit, errors) = await RunAsync("filter", input, "--out", In("genai"), "--snapshot", snapshot, "--use", "train-genai", "-q");
        Assert.True(exit == 0, errors);
        Assert.Equal(Enumerable.Range(0, Rows).Where(i => !OptedOut(i) && !GenAiOnly(i)).Select(i => (long)i), SampleIds(Path.Combine(In("genai"), "laion.parquet")));
    }

    /// <summary>The manifest beside a snapshot names it in the run's summary: one of another creation time, size or id than the file is refused, not recorded.</summary>
    [Theory]
    [InlineData("created")]
    [InlineData("size")]
    [InlineData("id")]
    public async Task A_snapshot_whose_manifest_is_of_another_snapshot_is_refused(string changed)
    {
        var snapshots = In("snapshots");
        await using var app = await StartRegistryAsync(snapshots);
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        await SubmitAsync(client, signer, [TestSigner.Subject("host", "art11.example")], "train-ai");
        var snapshot = await SnapshotAtAsync(client, snapshots, 1);
        var copy = Directory.CreateDirectory(In("mismatched")).FullName;
        File.Copy(Path.Combine(snapshot, "index.snap"), Path.Combine(copy, "index.snap"));
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(snapshot, "manifest.json")))!;
        if (changed == "created")
        {
            manifest["created"] = DateTimeOffset.Parse((string)manifest["created"]!, System.Globalization.CultureInfo.InvariantCulture).AddSeconds(1).ToString("O");
        }
        else if (changed == "id")
        {
            manifest["id"] = SnapshotManifest.IdFor((long)manifest["seq"]! + 1, DateTimeOffset.UnixEpoch.AddYears(55));
        }
        else
        {
            manifest["files"]![0]!["size"] = (long)manifest["files"]![0]!["size"]! + 8;
        }

        await File.WriteAllTextAsync(Path.Combine(copy, "manifest.json"), manifest.ToJsonString());
        var input = In("small.parquet");
        MakeInput(input, 100);

        var (exit, errors) = await RunAsync("filter", input, "--out", In("out"), "--snapshot", copy, "-q");

        Assert.Equal(2, exit);
        Assert.Contains("is of another snapshot", errors, StringComparison.Ordinal);
    }

    /// <summary>
    /// The offline filter reads a snapshot through the same checks as the service's start: an index
    /// section at another seq than its header, or a creation time no date holds, is refused as a
    /// corrupt file (exit 2, one line), though every checksum was recomputed.
    /// </summary>
    [Theory]
    [InlineData("index-seq", "is at seq 5000; the header says")]
    [InlineData("created", "creation time")]
    public async Task A_snapshot_crafted_with_a_seq_or_a_time_that_does_not_hold_is_refused(string crafted, string why)
    {
        var snapshots = In("snapshots");
        await using var app = await StartRegistryAsync(snapshots);
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        await SubmitAsync(client, signer, [TestSigner.Subject("host", "art11.example")], "train-ai");
        var bytes = await File.ReadAllBytesAsync(Path.Combine(await SnapshotAtAsync(client, snapshots, 1), "index.snap"));
        if (crafted == "index-seq")
        {
            CraftedSnapshots.SetIndexSeq(bytes, 5_000);
        }
        else
        {
            CraftedSnapshots.SetCreated(bytes, long.MinValue);
        }

        var file = In("crafted.snap");
        await File.WriteAllBytesAsync(file, bytes);
        var input = In("small.parquet");
        MakeInput(input, 100);

        var (exit, errors) = await RunAsync("filter", input, "--out", In("out"), "--snapshot", file, "-q");

        Assert.True(exit == 2, errors);
        Assert.Contains($"{file}: not a usable index snapshot: ", errors, StringComparison.Ordinal);
        Assert.Contains(why, errors, StringComparison.Ordinal);
        Assert.Single(errors.TrimEnd().Split('\n'));
    }

    /// <summary>The summary records the registry's seq when the run began, as the docs say: a resumed run keeps the first run's, though the registry moved on.</summary>
    [Fact]
    public async Task A_resumed_online_run_records_the_seq_its_first_run_began_at()
    {
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        await SubmitAsync(client, signer, [TestSigner.Subject("host", "art11.example")], "train-ai");
        var input = In("resumed-online.parquet");
        MakeInput(input, 2_000);
        var output = In("resumed-online");
        var (exit, errors) = await RunAsync("filter", input, "--out", output, "--registry", client.BaseAddress!.ToString(), "-q");
        Assert.True(exit == 0, errors);
        var began = (long)JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "filter-summary.json")))!["source"]!["seq"]!;

        await SubmitAsync(client, signer, [TestSigner.Subject("host", "art12.example")], "train-ai");
        (exit, errors) = await RunAsync("filter", input, "--out", output, "--registry", client.BaseAddress!.ToString(), "--resume", "-q");

        Assert.True(exit == 0, errors);
        Assert.Equal(began, (long)JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "filter-summary.json")))!["source"]!["seq"]!);
    }

    [Fact]
    public async Task A_required_URL_column_of_non_ASCII_URLs_comes_through_unchanged()
    {
        // DuckDB writes every column optional: this input, written with ParquetSharp, has a
        // required URL column (no definition levels), several row groups, and URLs that are not ASCII.
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        await SubmitAsync(client, signer, [TestSigner.Subject("host", "art11.example")], "train-ai");
        var input = In("required.parquet");
        string UrlAt(int i) => $"https://art{i % 50}.example/œuvres/{i}-été.jpg";
        using (var text = ParquetSharp.LogicalType.String())
        using (var id = new ParquetSharp.Schema.PrimitiveNode("id", ParquetSharp.Repetition.Required, ParquetSharp.LogicalType.None(), ParquetSharp.PhysicalType.Int64))
        using (var url = new ParquetSharp.Schema.PrimitiveNode("url", ParquetSharp.Repetition.Required, text, ParquetSharp.PhysicalType.ByteArray))
        using (var schema = new ParquetSharp.Schema.GroupNode("schema", ParquetSharp.Repetition.Required, [id, url]))
        using (var properties = new ParquetSharp.WriterPropertiesBuilder().Build())
        using (var writer = new ParquetSharp.ParquetFileWriter(input, schema, properties))
        {
            for (var group = 0; group < 3; group++)
            {
                using var rowGroup = writer.AppendRowGroup();
                var ids = Enumerable.Range(group * 1_000, 1_000).ToArray();
                using (var column = rowGroup.NextColumn().LogicalWriter<long>())
                {
                    column.WriteBatch([.. ids.Select(i => (long)i)]);
                }

                using (var column = rowGroup.NextColumn().LogicalWriter<string>())
                {
                    column.WriteBatch([.. ids.Select(UrlAt)]);
                }
            }

            writer.Close();
        }

        var (exit, errors) = await RunAsync("filter", input, "--out", In("out"), "--registry", client.BaseAddress!.ToString(), "--removed", "-q");
        Assert.True(exit == 0, errors);
        var kept = Path.Combine(In("out"), "required.parquet");
        var removed = Path.Combine(In("out"), "removed", "required.parquet");
        var expected = Enumerable.Range(0, 3_000).Where(i => i % 50 != 11).ToList();
        Assert.Equal(expected.Select(i => (long)i), Query($"SELECT id FROM '{kept}' ORDER BY id").Select(row => (long)row[0]!));
        Assert.Equal(expected.Select(UrlAt), Query($"SELECT url FROM '{kept}' ORDER BY id").Select(row => (string)row[0]!));
        Assert.Equal(Enumerable.Range(0, 3_000).Where(i => i % 50 == 11).Select(UrlAt), Query($"SELECT url FROM '{removed}' ORDER BY id").Select(row => (string)row[0]!));
        Assert.Equal(0, Count($"SELECT count(*) FROM parquet_schema('{kept}') WHERE name = 'url' AND repetition_type <> 'REQUIRED'"));
    }

    [Fact]
    public async Task A_run_stopped_by_ctrl_c_then_killed_and_resumed_writes_what_one_run_writes()
    {
        var snapshots = In("snapshots");
        await using var app = await StartRegistryAsync(snapshots);
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        await SubmitAsync(client, signer, [TestSigner.Subject("url-prefix", "https://art7.example/works/"), TestSigner.Subject("host", "art11.example")], "train-ai");
        var snapshot = await SnapshotAtAsync(client, snapshots, 1);

        const int rows = 600_000;
        var input = In("big.parquet");
        MakeInput(input, rows);
        var (once, resumed) = (In("once"), In("resumed"));
        var (exit, errors) = await RunAsync("filter", input, "--out", once, "--snapshot", snapshot, "--removed", "-q");
        Assert.True(exit == 0, errors);

        // Ctrl-C (SIGINT) once a few row groups are recorded: a clean stop with exit 130. Then
        // --resume, killed with SIGKILL a few row groups later; then --resume to the end. The
        // command runs in steps of a few milliseconds (StopWhen), but a test host paused between
        // two steps (its garbage collector, a loaded machine) lets it run on, and the 293 row groups
        // take it half a second: a phase that ran to the end is tried again from where it began,
        // three times at most.
        var state = Path.Combine(resumed, ".consent-registry-filter.json");
        var groups = Count($"SELECT count(DISTINCT row_group_id) FROM parquet_metadata('{input}')");
        var interrupted = 0;
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            DeleteFolder(resumed);
            using var process = Start("filter", input, "--out", resumed, "--snapshot", snapshot, "--removed", "-q");
            StopAtRowGroups(process, state, 3);
            Interrupt(process);
            await process.WaitForExitAsync();
            interrupted = RowGroupsDone(state);
            if (process.ExitCode == 0 && interrupted == groups)
            {
                continue; // it ran to the end before the interrupt came
            }

            Assert.Equal(130, process.ExitCode);
            if (interrupted + 3 < groups)
            {
                break;
            }
        }

        Assert.True(interrupted + 3 < groups, $"the interrupt was seen only after {interrupted} of {groups} row groups, three times: nothing left to kill and resume");
        var atInterrupt = In("at-interrupt");
        CopyFolder(resumed, atInterrupt);
        var killedAt = groups;
        for (var attempt = 1; attempt <= 3 && killedAt >= groups; attempt++)
        {
            DeleteFolder(resumed);
            CopyFolder(atInterrupt, resumed);
            using var process = Start("filter", input, "--out", resumed, "--snapshot", snapshot, "--removed", "--resume", "-q");
            StopAtRowGroups(process, state, interrupted + 3);
            process.Kill();
            await process.WaitForExitAsync();
            killedAt = RowGroupsDone(state);
        }

        Assert.True(killedAt < groups, "the run finished before the kill, three times: nothing was resumed");
        (exit, errors) = await RunAsync("filter", input, "--out", resumed, "--snapshot", snapshot, "--removed", "--resume", "-q");
        Assert.True(exit == 0, errors);

        foreach (var file in new[] { "big.parquet", Path.Combine("removed", "big.parquet") })
        {
            var (a, b) = (Path.Combine(once, file), Path.Combine(resumed, file));
            Assert.Equal(Count($"SELECT count(*) FROM '{a}'"), Count($"SELECT count(*) FROM '{b}'"));
            Assert.Equal(0, Count($"SELECT count(*) FROM (SELECT * FROM '{a}' EXCEPT ALL SELECT * FROM '{b}')"));
            Assert.Equal(0, Count($"SELECT count(*) FROM (SELECT * FROM '{b}' EXCEPT ALL SELECT * FROM '{a}')"));
            Assert.Equal(
                Query($"SELECT row_group_id, row_group_num_rows FROM parquet_metadata('{a}') GROUP BY ALL ORDER BY 1").Select(r => (r[0], r[1])),
                Query($"SELECT row_group_id, row_group_num_rows FROM parquet_metadata('{b}') GROUP BY ALL ORDER BY 1").Select(r => (r[0], r[1])));
        }

        var expectedRemoved = Enumerable.Range(0, rows).Count(i => UrlOf(i) is { } url && url.StartsWith("https://", StringComparison.Ordinal) && i % 50 is 7 or 11);
        Assert.Equal(expectedRemoved, Count($"SELECT count(*) FROM '{Path.Combine(resumed, "removed", "big.parquet")}'"));

        // A finished run resumed again does nothing; without --resume the folder is refused.
        (exit, errors) = await RunAsync("filter", input, "--out", resumed, "--snapshot", snapshot, "--removed", "--resume", "-q");
        Assert.True(exit == 0, errors);
        (exit, errors) = await RunAsync("filter", input, "--out", resumed, "--snapshot", snapshot, "-q");
        Assert.Equal(2, exit);
        Assert.Contains("--resume", errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resume_is_refused_with_another_url_column_or_offline_another_trust_for_grants()
    {
        var snapshots = In("snapshots");
        await using var app = await StartRegistryAsync(snapshots);
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        await SubmitAsync(client, signer, [TestSigner.Subject("host", "art11.example")], "train-ai");
        var snapshot = await SnapshotAtAsync(client, snapshots, 1);
        var registry = client.BaseAddress!.ToString();
        var input = In("laion.parquet");
        MakeInput(input, 3_000);

        var (exit, errors) = await RunAsync("filter", input, "--out", In("online"), "--registry", registry, "-q");
        Assert.True(exit == 0, errors);
        (exit, errors) = await RunAsync("filter", input, "--out", In("offline"), "--snapshot", snapshot, "--url-column", "URL", "-q");
        Assert.True(exit == 0, errors);

        // The same column found by default and named are two settings: the run records what it was told.
        await ExpectAsync(2, "--resume continues it only with the same source, --use, --removed, --url-column and --min-trust-for-grants", "filter", input, "--out", In("online"), "--registry", registry, "--url-column", "URL", "--resume", "-q");
        await ExpectAsync(2, "for train-ai with --url-column URL --min-trust-for-grants domain;", "filter", input, "--out", In("offline"), "--snapshot", snapshot, "--resume", "-q");
        await ExpectAsync(2, "for train-ai with --url-column URL --min-trust-for-grants domain;", "filter", input, "--out", In("offline"), "--snapshot", snapshot, "--url-column", "URL", "--min-trust-for-grants", "reviewed", "--resume", "-q");

        // Online the registry's own setting decides: the option does not change the run.
        (exit, errors) = await RunAsync("filter", input, "--out", In("online"), "--registry", registry, "--min-trust-for-grants", "reviewed", "--resume", "-q");
        Assert.True(exit == 0, errors);
        (exit, errors) = await RunAsync("filter", input, "--out", In("offline"), "--snapshot", snapshot, "--url-column", "URL", "--resume", "-q");
        Assert.True(exit == 0, errors);
    }

    [Fact]
    public async Task Online_filtering_waits_out_the_registrys_rate_limit_and_names_a_batch_it_refuses_as_too_large()
    {
        // One lookup a second, batches of at most 500 rows: 3,000 rows in batches of 500, all six sent at
        // once, meet 429s and go through after Retry-After; batches of 1,000 are refused with the registry's
        // reason. (Sent one at a time, a slow test host could space them a second apart and meet no 429.)
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?>
        {
            ["Registry:Lookup:RequestsPerSecondPerAddress"] = "1",
            ["Registry:Lookup:MaxBatch"] = "500",
        });
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        await SubmitAsync(client, signer, [TestSigner.Subject("host", "art11.example")], "train-ai");
        var input = In("limited.parquet");
        MakeInput(input, 3_000);

        var (exit, errors) = await RunAsync("filter", input, "--out", In("limited"), "--registry", client.BaseAddress!.ToString(), "--chunk-rows", "500", "--in-flight", "6");
        Assert.True(exit == 0, errors);
        Assert.Contains("answered 429", errors, StringComparison.Ordinal);
        var expected = Enumerable.Range(0, 3_000).Count(i => UrlOf(i) is { } url && url.StartsWith("https://", StringComparison.Ordinal) && i % 50 == 11);
        Assert.Equal(expected, (long)JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(In("limited"), "filter-summary.json")))!["totals"]!["removed"]!);

        await Task.Delay(TimeSpan.FromSeconds(1.5)); // a token for the next run's first request
        await ExpectAsync(3, "--chunk-rows", "filter", input, "--out", In("too-large"), "--registry", client.BaseAddress!.ToString(), "--chunk-rows", "1000", "--in-flight", "1", "-q");
    }

    [Fact]
    public async Task Outputs_that_would_overwrite_an_input_or_each_other_are_refused_and_the_input_stays_as_it_was()
    {
        await using var app = await RegistryApp.StartAsync();
        var registry = app.CreateClient().BaseAddress!.ToString();
        var data = Directory.CreateDirectory(In("data")).FullName;
        var input = Path.Combine(data, "laion.parquet");
        MakeInput(input, 3_000);
        var before = await File.ReadAllBytesAsync(input);

        // A trailing separator names the same folder; so does --removed, whose files are replaced as the kept ones are.
        var slash = Path.DirectorySeparatorChar.ToString();
        await ExpectAsync(2, "is the folder of the input", "filter", data, "--out", data + slash, "--registry", registry, "-q");
        await ExpectAsync(2, "is the folder of the input", "filter", input, "--out", data + slash, "--registry", registry, "-q");
        await ExpectAsync(2, "is the folder of the input", "filter", data, "--out", In("kept"), "--removed", data, "--registry", registry, "-q");
        await ExpectAsync(2, "is the folder of the input", "filter", data, "--out", In("kept"), "--removed", data + slash + "." + slash, "--registry", registry, "-q");
        await ExpectAsync(2, "is the --out folder", "filter", data, "--out", In("both"), "--removed", In("both") + slash, "--registry", registry, "-q");

        Assert.Equal(before, await File.ReadAllBytesAsync(input));
        Assert.Equal([input], Directory.GetFiles(data));
        Assert.False(Directory.Exists(In("kept")) || Directory.Exists(In("both")), "an output folder was made before the refusal");
    }

    [Fact]
    public async Task Outputs_that_lead_to_an_input_through_a_symbolic_link_are_refused_and_the_input_stays_as_it_was()
    {
        // Refused before the registry is asked: none answers at this address.
        const string registry = "http://127.0.0.1:1";
        var data = Directory.CreateDirectory(In("data")).FullName;
        var input = Path.Combine(data, "laion.parquet");
        MakeInput(input, 3_000);
        var before = await File.ReadAllBytesAsync(input);
        var linkToData = Directory.CreateSymbolicLink(In("link-to-data"), data).FullName;
        var holdsLink = Directory.CreateDirectory(In("holds-link")).FullName;
        File.CreateSymbolicLink(Path.Combine(holdsLink, "laion.parquet"), input);
        var elsewhere = Directory.CreateDirectory(In("elsewhere")).FullName;
        var linkedInput = File.CreateSymbolicLink(Path.Combine(elsewhere, "laion.parquet"), input).FullName;

        // --out (or --removed) a link to the input's folder; an output file that is a link to the
        // input; an input that is a link to the file the output would replace.
        await ExpectAsync(2, $"--out {linkToData}: {Path.Combine(linkToData, "laion.parquet")} is the input {input} through a symbolic link", "filter", data, "--out", linkToData, "--registry", registry, "-q");
        await ExpectAsync(2, $"--removed {linkToData}: {Path.Combine(linkToData, "laion.parquet")} is the input {input} through a symbolic link", "filter", data, "--out", In("kept"), "--removed", linkToData, "--registry", registry, "-q");
        await ExpectAsync(2, "is the input", "filter", input, "--out", holdsLink, "--registry", registry, "-q");
        await ExpectAsync(2, $"is the input {linkedInput} through a symbolic link (both are {input})", "filter", linkedInput, "--out", data, "--registry", registry, "-q");

        // --removed a link to the --out folder (which does not exist yet).
        var linkToKept = Directory.CreateSymbolicLink(In("link-to-kept"), In("kept")).FullName;
        await ExpectAsync(2, "is the --out folder through a symbolic link", "filter", data, "--out", In("kept"), "--removed", linkToKept, "--registry", registry, "-q");

        Assert.Equal(before, await File.ReadAllBytesAsync(input));
        Assert.Equal([input], Directory.GetFiles(data));
        Assert.Equal(input, new FileInfo(Path.Combine(holdsLink, "laion.parquet")).LinkTarget);
        Assert.False(Directory.Exists(In("kept")), "an output folder was made before the refusal");
    }

    [Fact]
    public async Task Output_files_that_cannot_be_written_and_a_resume_state_that_cannot_be_read_give_one_line_naming_the_file_and_exit_2()
    {
        // Tests may run as root, whom a read-only folder does not stop: a folder where the file
        // goes refuses it as surely, and /proc/self/mem cannot be read even by root (EIO).
        await using var app = await RegistryApp.StartAsync();
        var registry = app.CreateClient().BaseAddress!.ToString();
        var input = In("laion.parquet");
        MakeInput(input, 3_000);

        var kept = Directory.CreateDirectory(Path.Combine(In("kept-refused"), "laion.parquet")).FullName;
        await ExpectAsync(2, $"consent-registry: cannot write {kept}: ", "filter", input, "--out", In("kept-refused"), "--registry", registry, "-q");

        var removed = Directory.CreateDirectory(Path.Combine(In("removed-refused"), "laion.parquet")).FullName;
        await ExpectAsync(2, $"consent-registry: cannot write {removed}: ", "filter", input, "--out", In("o1"), "--removed", In("removed-refused"), "--registry", registry, "-q");

        var summary = Directory.CreateDirectory(Path.Combine(In("summary-refused"), "filter-summary.json")).FullName;
        await ExpectAsync(2, $"consent-registry: cannot write {summary}: ", "filter", input, "--out", In("summary-refused"), "--registry", registry, "-q");

        var state = Path.Combine(Directory.CreateDirectory(In("state-unreadable")).FullName, ".consent-registry-filter.json");
        File.CreateSymbolicLink(state, "/proc/self/mem");
        await ExpectAsync(2, $"consent-registry: {state}: unreadable resume state (", "filter", input, "--out", In("state-unreadable"), "--registry", registry, "--resume", "-q");
        await ExpectAsync(2, "start again with --overwrite", "filter", input, "--out", In("state-unreadable"), "--registry", registry, "-q");

        // As the message says: --overwrite starts again, without reading the state it replaces.
        var (exit, errors) = await RunAsync("filter", input, "--out", In("state-unreadable"), "--registry", registry, "--overwrite", "-q");
        Assert.True(exit == 0, errors);
        Assert.Null(new FileInfo(state).LinkTarget);
        Assert.Equal(3_000, Count($"SELECT count(*) FROM '{input}'"));
        Assert.Equal(3_000, Count($"SELECT count(*) FROM '{Path.Combine(In("state-unreadable"), "laion.parquet")}'"));
    }

    [Fact]
    public async Task A_disk_that_fills_up_while_the_kept_file_is_written_is_an_input_error_naming_it_and_resume_continues_once_there_is_room()
    {
        // A full disk, made here by a file size limit (ulimit -f, in KiB) with SIGXFSZ ignored,
        // so that writing past it fails with EFBIG as a full disk fails with ENOSPC. The limit
        // leaves room for the state file and the first row groups, not for the whole output. The
        // runtime's W^X double mapping sizes a memory file past any such limit: it is turned off.
        await using var app = await RegistryApp.StartAsync();
        var registry = app.CreateClient().BaseAddress!.ToString();
        var input = In("big.parquet");
        MakeInput(input, 40_000);
        var output = In("out");
        var kept = Path.Combine(output, "big.parquet");
        var command = string.Join(' ', new[] { Path.Combine(AppContext.BaseDirectory, "consent-registry.dll"), "filter", input, "--out", output, "--registry", registry, "-q" }.Select(arg => $"'{arg}'"));

        var (exit, _, errors) = await RunProgramAsync("bash", ["-c", $"trap '' XFSZ; ulimit -f 256; DOTNET_EnableWriteXorExecute=0 exec dotnet {command}"], TimeSpan.FromSeconds(60));

        Assert.True(exit == 2, $"exit {exit}: {errors}");
        Assert.StartsWith($"consent-registry: cannot write {kept}: ", errors, StringComparison.Ordinal);
        Assert.Single(errors.TrimEnd().Split('\n'));
        Assert.Contains("it would be larger than the file system, or the process's file size limit, allows", errors, StringComparison.Ordinal); // EFBIG: the limit was reached
        // Put back as its last recorded row group left it: a valid file, short of the whole.
        Assert.InRange(Count($"SELECT count(*) FROM '{kept}'"), 1, 39_999);

        // The row groups recorded before the failure stand; --resume writes the rest.
        (exit, errors) = await RunAsync("filter", input, "--out", output, "--registry", registry, "--resume", "-q");
        Assert.True(exit == 0, errors);
        Assert.Equal(Enumerable.Range(0, 40_000).Select(i => (long)i), SampleIds(kept)); // the registry holds no claim: every row is kept
    }

    [Fact]
    public async Task A_registry_that_refuses_a_batch_midway_through_a_file_of_many_row_groups_stops_the_run_with_exit_3()
    {
        // The registry takes batches of 500 rows; --chunk-rows 1000 is refused at the first row
        // group, while the URLs of the next ones are already read and waiting. The command runs as
        // a process of its own, so that a hang is a timeout here and not a test host that never ends.
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Lookup:MaxBatch"] = "500" });
        var registry = app.CreateClient().BaseAddress!.ToString();
        var input = In("groups.parquet");
        MakeInput(input, 12_000);
        Assert.True(Count($"SELECT count(DISTINCT row_group_id) FROM parquet_metadata('{input}')") >= 4);

        var (exit, _, errors) = await RunProgramAsync(
            "dotnet",
            [Path.Combine(AppContext.BaseDirectory, "consent-registry.dll"), "filter", input, "--out", In("out"), "--registry", registry, "--chunk-rows", "1000", "--in-flight", "1", "-q"],
            TimeSpan.FromSeconds(60));

        Assert.True(exit == 3, $"exit {exit}: {errors}");
        Assert.Contains("--chunk-rows", errors, StringComparison.Ordinal);
        Assert.Single(errors.TrimEnd().Split('\n'));
    }

    [Theory]
    [InlineData("text/html", "<html><body>Service temporarily moved</body></html>")]
    [InlineData("application/json", """{"seq":1,"results":[{"error":"invalid item"},{"error":"invalid item"}]}""")]
    public async Task A_lookup_answered_200_with_something_that_is_not_the_registrys_JSON_is_a_registry_error(string contentType, string body)
    {
        // Something else answers at the registry's URL: its first answer (the connection check)
        // is a registry's, the next (the lookup of the file's rows) is not.
        var requests = 0;
        await using var server = new RawHttpServer(_ =>
        {
            var (type, text) = Interlocked.Increment(ref requests) == 1 ? ("application/json", """{"seq":1,"results":[{}]}""") : (contentType, body);
            var bytes = System.Text.Encoding.UTF8.GetBytes(text);
            return Task.FromResult<byte[]>([
                .. System.Text.Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: {type}\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n"),
                .. bytes]);
        });
        var input = In("two.parquet");
        MakeInput(input, 2);

        await ExpectAsync(3, "answered its lookup API with something that is not a registry's answer", "filter", input, "--out", In("out"), "--registry", $"http://127.0.0.1:{server.Port}/", "-q");
        Assert.Equal(2, requests);
    }

    /// <summary>
    /// Answers no registry gives, each a registry error (exit 3, one line), neither a crash (exit 70)
    /// nor a hang: the connection check's answer cut off, stalled (60 s), with a seq that is no
    /// integer, or with no length and no end short of a mebibyte; a batch's answer past its bound (a
    /// mebibyte and 8 KiB a row), or cut off each of the 8 times it is sent (a minute of backoff).
    /// The command runs as a process of its own, so that a hang is a timeout here.
    /// </summary>
    [Theory]
    [InlineData("check cut off", "the registry's answer to /v1/lookup was cut off")]
    [InlineData("check stalled", "the registry's answer to /v1/lookup was cut off: no bytes for 60 s")]
    [InlineData("check seq 1.5", "answered its lookup API with something that is not a registry's answer")]
    [InlineData("check past a mebibyte", "larger than 1,048,576 bytes")]
    [InlineData("batch past its bound", "answered a lookup of 2 rows with more than 1,064,960 bytes")]
    [InlineData("batch cut off every time", "kept cutting off its answers to 2 rows")]
    public async Task An_answer_cut_off_stalled_malformed_or_without_end_is_a_registry_error_not_a_crash_or_a_hang(string answer, string message)
    {
        const string check = """{"seq":1,"results":[{}]}""";
        const string twoRows = """{"seq":1,"results":[{},{}]}""";
        var huge = $$"""{"seq":1,"results":[{},{}],"padding":"{{new string('x', 1_100_000)}}"}""";
        var (first, then) = answer switch
        {
            "check cut off" or "check stalled" => (Ok(check, sent: 10), Ok(twoRows)),
            "check seq 1.5" => (Ok("""{"seq":1.5,"results":[{}]}"""), Ok(twoRows)),
            "check past a mebibyte" => (Ok(huge, withLength: false), Ok(huge, withLength: false)),
            "batch past its bound" => (Ok(check), Ok(huge, withLength: false)),
            _ => (Ok(check), Ok(twoRows, sent: 10)),
        };
        var requests = 0;
        await using var server = new RawHttpServer(_ => Task.FromResult(Interlocked.Increment(ref requests) == 1 ? first : then), holdOpen: answer == "check stalled");
        var input = In("two.parquet");
        MakeInput(input, 2);

        var (exit, _, errors) = await RunProgramAsync(
            "dotnet",
            [Path.Combine(AppContext.BaseDirectory, "consent-registry.dll"), "filter", input, "--out", In("out"), "--registry", $"http://127.0.0.1:{server.Port}/", "-q"],
            TimeSpan.FromSeconds(150));

        Assert.True(exit == 3, $"exit {exit}: {errors}");
        Assert.Contains(message, errors, StringComparison.Ordinal);
        Assert.Single(errors.TrimEnd().Split('\n'));
    }

    /// <summary>
    /// A footer is the file's word, read before its data: a row group said to hold a negative
    /// count, more rows than an array holds, or 400 million rows in a file of a few kilobytes (19 GB
    /// of keys, were they sized by it) is refused as a corrupt file, within a heap of 512 MiB; and
    /// files that claim long.MaxValue rows each do not overflow the total the ETA is reckoned from.
    /// </summary>
    [Theory]
    [InlineData(-5L, "its footer gives it -5 rows")]
    [InlineData(3_000_000_000L, "its footer gives it 3,000,000,000 rows")]
    [InlineData(400_000_000L, "the URL column holds 3 values for 400000000 rows")]
    [InlineData(long.MaxValue, "its footer gives it 9,223,372,036,854,775,807 rows")]
    public async Task A_footer_that_claims_an_impossible_or_unbacked_row_count_is_an_input_error_in_little_memory(long rows, string reason)
    {
        var honest = In("honest.parquet");
        MakeInput(honest, 3);
        var lying = TwoCopies(LyingParquet.ClaimingRows(await File.ReadAllBytesAsync(honest), rows));
        await using var server = new RawHttpServer(System.Text.Encoding.ASCII.GetString(Ok("""{"seq":1,"results":[{}]}""")));

        var (exit, _, errors) = await RunProgramAsync(
            "dotnet",
            [Path.Combine(AppContext.BaseDirectory, "consent-registry.dll"), "filter", lying, "--out", In("out"), "--registry", $"http://127.0.0.1:{server.Port}/", "-q"],
            TimeSpan.FromSeconds(60),
            environment: new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x20000000" });

        Assert.True(exit == 2, $"exit {exit}: {errors}");
        Assert.Contains($"{Path.Combine(lying, "a.parquet")}: row group 0 cannot be read ({reason}", errors, StringComparison.Ordinal);
        Assert.Single(errors.TrimEnd().Split('\n'));
    }

    /// <summary>
    /// A row group of more rows than its arrays are sized for up front (1,048,576) grows them as it
    /// is read: the row opted out past that point is removed, and the rows without a URL on either
    /// side of it are kept and counted.
    /// </summary>
    [Fact]
    public async Task A_row_group_of_more_rows_than_are_sized_up_front_is_decided_whole()
    {
        const int rows = 1_100_000;
        var snapshots = In("snapshots");
        await using var app = await StartRegistryAsync(snapshots);
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var claim = await SubmitAsync(client, signer, [TestSigner.Url("https://big.example/1050000.jpg")], "train-ai");
        var snapshot = await SnapshotAtAsync(client, snapshots, 1);
        var input = In("big.parquet");
        Execute($"""
            COPY (SELECT i::BIGINT AS id, CASE WHEN i IN (7, 1048576, {rows - 1}) THEN NULL ELSE 'https://big.example/' || i || '.jpg' END AS url FROM range(0, {rows}) t(i))
            TO '{input}' (FORMAT PARQUET, ROW_GROUP_SIZE {rows})
            """);
        Assert.Equal(rows, Count($"SELECT max(row_group_num_rows) FROM parquet_metadata('{input}')"));

        var (exit, errors) = await RunAsync("filter", input, "--out", In("out"), "--snapshot", snapshot, "--removed", "-q");

        Assert.True(exit == 0, errors);
        Assert.Equal(rows - 1, Count($"SELECT count(*) FROM '{In("out/big.parquet")}'"));
        var removed = Assert.Single(Query($"SELECT id, registry_claims FROM '{In("out/removed/big.parquet")}'"));
        Assert.Equal((1_050_000L, claim), ((long)removed[0]!, (string)removed[1]!));
        var summary = JsonNode.Parse(await File.ReadAllTextAsync(In("out/filter-summary.json")))!;
        Assert.Equal(3, (long)summary["files"]![0]!["counts"]!["invalid_urls"]!);
    }

    /// <summary>A folder of two copies of <paramref name="file"/>, a.parquet and b.parquet.</summary>
    private string TwoCopies(byte[] file)
    {
        var folder = Directory.CreateDirectory(In("lying")).FullName;
        File.WriteAllBytes(Path.Combine(folder, "a.parquet"), file);
        File.WriteAllBytes(Path.Combine(folder, "b.parquet"), file);
        return folder;
    }

    /// <summary>A 200 of <paramref name="body"/>, with its length or none (its end is the connection's), cut after <paramref name="sent"/> bytes when given.</summary>
    private static byte[] Ok(string body, bool withLength = true, int? sent = null)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(body);
        var length = withLength ? $"Content-Length: {bytes.Length}\r\n" : "";
        return [.. System.Text.Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}Connection: close\r\n\r\n"), .. bytes[..(sent ?? bytes.Length)]];
    }

    [Fact]
    public async Task Bad_inputs_give_one_line_and_the_documented_exit_code()
    {
        var good = In("good.parquet");
        MakeInput(good, 3_000);
        var text = In("text.parquet");
        await File.WriteAllTextAsync(text, "url,caption\nhttps://a.example/1.jpg,a cat\n");
        var noUrl = In("nourl.parquet");
        Execute($"COPY (SELECT range AS id, 'x' AS caption FROM range(10)) TO '{noUrl}' (FORMAT PARQUET)");
        var truncated = In("truncated.parquet");
        var bytes = await File.ReadAllBytesAsync(good);
        await File.WriteAllBytesAsync(truncated, bytes[..(bytes.Length / 2)]);
        var mangled = In("mangled.parquet");
        var overwritten = bytes.ToArray();
        overwritten.AsSpan(bytes.Length / 3, 2048).Fill((byte)'A'); // a compressed page's middle: it no longer decompresses
        await File.WriteAllBytesAsync(mangled, overwritten);
        var broken = In("broken.parquet");
        bytes[bytes.Length / 3] ^= 0xFF;
        bytes[(bytes.Length / 3) + 1] ^= 0xFF;
        await File.WriteAllBytesAsync(broken, bytes);
        var closedPort = FreeLoopbackPort();

        await ExpectAsync(2, "not a readable Parquet file", "filter", text, "--out", In("o1"), "--registry", $"http://127.0.0.1:{closedPort}");
        await ExpectAsync(2, "no URL column", "filter", noUrl, "--out", In("o2"), "--registry", $"http://127.0.0.1:{closedPort}");
        await ExpectAsync(2, "no column named link", "filter", good, "--out", In("o3"), "--registry", $"http://127.0.0.1:{closedPort}", "--url-column", "link");
        await ExpectAsync(2, "not a readable Parquet file", "filter", truncated, "--out", In("o4"), "--registry", $"http://127.0.0.1:{closedPort}");
        await ExpectAsync(2, "no such file or folder", "filter", In("missing.parquet"), "--out", In("o5"), "--registry", $"http://127.0.0.1:{closedPort}");
        await ExpectAsync(2, "no such snapshot file", "filter", good, "--out", In("o6"), "--snapshot", In("missing.snap"));
        await ExpectAsync(2, "not a usable index snapshot", "filter", good, "--out", In("o7"), "--snapshot", text);
        await ExpectAsync(2, "/proc/self/mem: cannot read the snapshot", "filter", good, "--out", In("o13"), "--snapshot", "/proc/self/mem"); // EIO, even for root
        await ExpectAsync(3, "cannot reach the registry", "filter", good, "--out", In("o8"), "--registry", $"http://127.0.0.1:{closedPort}");
        await ExpectAsync(2, $"--out {Path.Combine(text, "out")} cannot be created", "filter", good, "--out", Path.Combine(text, "out"), "--registry", $"http://127.0.0.1:{closedPort}");
        await ExpectAsync(2, $"--removed {Path.Combine(text, "removed")} cannot be created", "filter", good, "--out", In("o12"), "--removed", Path.Combine(text, "removed"), "--registry", $"http://127.0.0.1:{closedPort}");
        await ExpectAsync(1, "--out", "filter", good, "--registry", $"http://127.0.0.1:{closedPort}");
        await ExpectAsync(1, "exactly one of --registry", "filter", good, "--out", In("o9"));
        await ExpectAsync(1, "exactly one of --registry", "filter", good, "--out", In("o9"), "--registry", "http://127.0.0.1:1", "--snapshot", good);
        await ExpectAsync(1, "--use must be one of", "filter", good, "--out", In("o9"), "--registry", "http://127.0.0.1:1", "--use", "everything");
        await ExpectAsync(1, "no-such-option", "filter", good, "--out", In("o9"), "--registry", "http://127.0.0.1:1", "--no-such-option");

        // A file whose pages are damaged fails at the row group, naming it; what came before stays resumable.
        await using var app = await RegistryApp.StartAsync();
        var registry = app.CreateClient().BaseAddress!.ToString();
        var (exit, errors) = await RunAsync("filter", broken, "--out", In("o10"), "--registry", registry, "-q");
        Assert.True(exit == 2, errors);
        Assert.Single(errors.TrimEnd().Split('\n'));
        await ExpectAsync(2, "row group 0 cannot be read (IOError: Corrupt snappy compressed data.)", "filter", mangled, "--out", In("o11"), "--registry", registry, "-q");
    }

    /// <summary>
    /// A row group whose URLs read but whose other column does not (its pages damaged) fails the run
    /// when its rows are copied out, after each output was cut back to before its footer to take the
    /// row group: each output is put back as it was, a valid file holding the row groups before.
    /// </summary>
    [Fact]
    public async Task A_row_group_that_fails_while_its_rows_are_copied_leaves_both_outputs_valid_files_of_the_row_groups_before()
    {
        var input = In("damaged.parquet");
        Execute($"COPY (SELECT 'https://damaged.example/' || range || '.jpg' AS url, md5(range::VARCHAR) || md5((range + 1)::VARCHAR) AS caption FROM range(3000)) "
            + $"TO '{input}' (FORMAT PARQUET, ROW_GROUP_SIZE 1000)");
        var chunk = CliRun.Query($"SELECT data_page_offset, total_compressed_size FROM parquet_metadata('{input}') WHERE row_group_id = 1 AND path_in_schema = 'caption'")[0];
        var (offset, size) = (Convert.ToInt64(chunk[0], System.Globalization.CultureInfo.InvariantCulture), Convert.ToInt64(chunk[1], System.Globalization.CultureInfo.InvariantCulture));
        var bytes = await File.ReadAllBytesAsync(input);
        bytes.AsSpan((int)(offset + (size / 2)), 256).Fill((byte)'A'); // the caption pages' middle: they no longer decompress
        await File.WriteAllBytesAsync(input, bytes);
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(artist.OptOut("https://damaged.example/7.jpg")))).StatusCode);

        var (exit, errors) = await RunAsync("filter", input, "--out", In("kept"), "--removed", In("removed"), "--registry", client.BaseAddress!.ToString(), "-q");

        Assert.True(exit == 2, errors);
        Assert.Contains("row group 1 cannot be read", errors, StringComparison.Ordinal);
        var firstGroup = Count($"SELECT row_group_num_rows FROM parquet_metadata('{input}') WHERE row_group_id = 0 LIMIT 1"); // DuckDB rounds row groups to 2,048 rows
        Assert.Equal(firstGroup - 1, Count($"SELECT COUNT(*) FROM read_parquet('{Path.Combine(In("kept"), "damaged.parquet")}')"));
        Assert.Equal(1, Count($"SELECT COUNT(*) FROM read_parquet('{Path.Combine(In("removed"), "damaged.parquet")}')"));
    }

    /// <summary>A registry on a database of its own that writes a snapshot into <paramref name="snapshots"/> after every log entry.</summary>
    private static Task<RegistryApp> StartRegistryAsync(string snapshots) => RegistryApp.StartAsync(new Dictionary<string, string?>
    {
        ["Registry:Snapshots:Path"] = snapshots,
        ["Registry:Snapshots:EveryLogEntries"] = "1",
        ["Registry:Snapshots:CheckInterval"] = "00:00:00.1",
    });

    private static async Task ExpectAsync(int exitCode, string message, params string[] args)
    {
        var (exit, errors) = await RunAsync(args);
        Assert.True(exit == exitCode, $"exit {exit}, expected {exitCode}: {errors}");
        Assert.Contains(message, errors, StringComparison.Ordinal);
        Assert.Single(errors.TrimEnd().Split('\n'));
    }

    /// <summary>A LAION-like file: LAION's columns, a nullable caption, a nested list, several row groups.</summary>
    private static void MakeInput(string path, int rows)
    {
        const string metadata = "{'ARROW:schema': 'as pyarrow stores it', origin: 'laion-like'}";
        Execute($"""
            COPY (
              SELECT i::BIGINT AS SAMPLE_ID,
                     CASE WHEN i % 113 = 0 THEN NULL WHEN i % 97 = 0 THEN 'not a url' WHEN i % 89 = 0 THEN '' ELSE 'https://art' || (i % 50) || '.example/works/' || i || '.jpg' END AS URL,
                     CASE WHEN i % 3 = 0 THEN NULL ELSE 'a painting, number ' || i END AS TEXT,
                     (256 + i % 1000)::INTEGER AS HEIGHT,
                     CASE WHEN i % 7 = 0 THEN NULL ELSE (300 + i % 900)::INTEGER END AS WIDTH,
                     0.25 + (i % 100) / 1000.0 AS similarity,
                     list_transform(range(i % 4), x -> 'tag' || x) AS tags
              FROM range(0, {rows}) t(i))
            TO '{path}' (FORMAT PARQUET, ROW_GROUP_SIZE 2048, KV_METADATA {metadata})
            """);
    }

    private static List<string> MetadataKeys(string path) =>
        [.. Query($"SELECT decode(key) FROM parquet_kv_metadata('{path}') ORDER BY 1").Select(row => (string)row[0]!)];

    private static List<long> SampleIds(string path) => [.. Query($"SELECT SAMPLE_ID FROM '{path}'").Select(row => (long)row[0]!)];

    private static void DeleteFolder(string folder)
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static void StopAtRowGroups(System.Diagnostics.Process process, string state, int groups) =>
        StopWhen(process, state, json => RowGroupsDone(json) >= groups, $"{groups} row groups");

    private static int RowGroupsDone(string state) => ReadState(state) is { } json ? RowGroupsDone(json) : 0;

    private static int RowGroupsDone(JsonNode state) =>
        state["files"]!.AsObject().Select(file => (int)file.Value!["row_groups_done"]!).DefaultIfEmpty(0).Sum();

    private static async Task<string> SubmitAsync(HttpClient client, TestSigner signer, IEnumerable<JsonObject> subjects, string category)
    {
        var jws = signer.Sign(TestSigner.Claim(subjects, new JsonObject { [category] = "n" }));
        var response = await client.PostAsync("/v1/claims", Jose(jws));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return TestSigner.IdOf(jws);
    }

    /// <summary>The folder of the first snapshot at <paramref name="seq"/> or later.</summary>
    private static async Task<string> SnapshotAtAsync(HttpClient client, string snapshots, long seq)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var response = await client.GetAsync("/v1/snapshots/latest");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var manifest = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
                if ((long)manifest["seq"]! >= seq)
                {
                    return Path.Combine(snapshots, (string)manifest["id"]!);
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"No snapshot at seq {seq} or later within 30 s.");
            await Task.Delay(50);
        }
    }

    private static StringContent JsonContent(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private static int FreeLoopbackPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

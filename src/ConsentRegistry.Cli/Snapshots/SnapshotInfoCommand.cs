using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using ConsentRegistry.Cli.Console;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Snapshots;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsentRegistry.Cli.Snapshots;

/// <summary>
/// <c>consent-registry snapshot info</c>: what a snapshot file is (id, seq, time, store, format),
/// whether the manifest beside it is of it, and what its index holds. The whole index is read, as
/// <c>filter --snapshot</c> would: every section's checksum is checked, so a file this command
/// describes is one that filter can use.
/// </summary>
public sealed class SnapshotInfoCommand : AsyncCommand<SnapshotInfoCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandArgument(0, "<FILE>")]
        [Description("A snapshot file (from 'snapshot pull'), or a snapshot folder as the service keeps them.")]
        public string File { get; init; } = "";

        [CommandOption("--json")]
        [Description("Print one JSON object instead of the table.")]
        public bool Json { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var files = SnapshotFiles.Locate(settings.File);
        SnapshotInfoReport report;
        try
        {
            report = await DescribeAsync(files, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new CliException(ExitCodes.Interrupted, "stopped.");
        }

        if (settings.Json)
        {
            System.Console.Out.WriteLine(JsonSerializer.Serialize(report, SnapshotCommandJson.Default.SnapshotInfoReport));
        }
        else
        {
            AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(System.Console.Out) }).Write(Table(report));
        }

        if (report.ManifestMatches == false)
        {
            throw CliException.Verification($"{files.IndexPath}: the manifest beside it ({files.ManifestPath}) is not of this file (its size, SHA-256, seq, store, time or id differ).");
        }

        return ExitCodes.Done;
    }

    private static async Task<SnapshotInfoReport> DescribeAsync(SnapshotFiles files, CancellationToken cancellationToken)
    {
        var size = new FileInfo(files.IndexPath).Length;
        SnapshotHeader header;
        int claims;
        long subjects;
        SubjectCounts byKind;
        long indexBytes;
        string sha256;
        try
        {
            using (var reader = new SnapshotReader(files.IndexPath))
            using (var index = MatchingIndex.ReadSnapshot(reader))
            {
                header = reader.Header;
                (claims, subjects, byKind, indexBytes) = (index.ClaimCount, index.SubjectCount, index.SubjectsByKind, index.EstimatedBytes);
            }

            sha256 = await FileSha256.OfAsync(files.IndexPath, cancellationToken);
        }
        catch (SnapshotFormatException e)
        {
            throw CliException.Input($"{files.IndexPath}: not a usable index snapshot: {e.Message}", e);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            throw CliException.Input($"{files.IndexPath}: cannot read the snapshot: {e.Message}", e);
        }

        // The id is the header's (seq and time): a manifest beside the file matches only if it names that id too.
        var id = SnapshotManifest.IdFor(header.Seq, header.Created);
        bool? matches = null;
        if (files.Manifest is { } manifest)
        {
            var entry = manifest.Files?.FirstOrDefault(f => f.Name == SnapshotManifest.IndexFileName);
            matches = entry is not null && entry.Size == size && string.Equals(entry.Sha256, sha256, StringComparison.OrdinalIgnoreCase)
                && manifest.Describes(header);
        }

        return new SnapshotInfoReport(
            id, header.Seq, header.Created, header.StoreId, header.FormatVersion,
            Path.GetFullPath(files.IndexPath), size, sha256, files.ManifestPath is null ? null : Path.GetFullPath(files.ManifestPath), matches,
            claims, subjects, new SubjectsByKind(byKind.Url, byKind.UrlPrefix, byKind.Host, byKind.Sha256, byKind.Pdq, byKind.Embedding), indexBytes);
    }

    private static Grid Table(SnapshotInfoReport report)
    {
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        void Row(string name, string value) => grid.AddRow(new Text(name, new Style(decoration: Decoration.Bold)), new Text(value));
        var kinds = report.SubjectsByKind;
        Row("id", report.Id);
        Row("seq", report.Seq.ToString("N0", CultureInfo.InvariantCulture));
        Row("created", report.Created.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff 'UTC'", CultureInfo.InvariantCulture));
        Row("store", report.Store.ToString());
        Row("format", report.Format.ToString(CultureInfo.InvariantCulture));
        Row("file", report.File);
        Row("size", $"{report.Size.ToString("N0", CultureInfo.InvariantCulture)} bytes");
        Row("sha256", report.Sha256);
        Row("manifest", report.Manifest is null ? "none beside it (the id is its seq and time)" : $"{report.Manifest}: {(report.ManifestMatches == true ? "matches the file" : "does NOT match the file")}");
        Row("claims", report.Claims.ToString("N0", CultureInfo.InvariantCulture));
        Row("subjects", string.Create(CultureInfo.InvariantCulture,
            $"{report.Subjects:N0} (url {kinds.Url:N0}, url-prefix {kinds.UrlPrefix:N0}, host {kinds.Host:N0}, sha256 {kinds.Sha256:N0}, pdq {kinds.Pdq:N0}, embedding {kinds.Embedding:N0})"));
        Row("index memory", string.Create(CultureInfo.InvariantCulture, $"about {report.IndexBytes / 1048576.0:N1} MiB once loaded"));
        return grid;
    }
}

/// <summary>What <c>snapshot info --json</c> prints.</summary>
internal sealed record SnapshotInfoReport(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("created")] DateTimeOffset Created,
    [property: JsonPropertyName("store")] Guid Store,
    [property: JsonPropertyName("format")] int Format,
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("manifest")] string? Manifest,
    [property: JsonPropertyName("manifest_matches")] bool? ManifestMatches,
    [property: JsonPropertyName("claims")] int Claims,
    [property: JsonPropertyName("subjects")] long Subjects,
    [property: JsonPropertyName("subjects_by_kind")] SubjectsByKind SubjectsByKind,
    [property: JsonPropertyName("index_bytes")] long IndexBytes);

/// <summary>Subjects by kind, named as the registry's API names them.</summary>
internal sealed record SubjectsByKind(
    [property: JsonPropertyName("url")] long Url,
    [property: JsonPropertyName("url-prefix")] long UrlPrefix,
    [property: JsonPropertyName("host")] long Host,
    [property: JsonPropertyName("sha256")] long Sha256,
    [property: JsonPropertyName("pdq")] long Pdq,
    [property: JsonPropertyName("embedding")] long Embedding);

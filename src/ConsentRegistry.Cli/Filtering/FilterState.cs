using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConsentRegistry.Cli.Filtering;

/// <summary>
/// What a filter run has finished, kept beside its output (<see cref="FileName"/>) and replaced
/// whole after every row group, so that <c>--resume</c> skips finished files and row groups.
/// </summary>
public sealed class FilterState
{
    public const string FileName = ".consent-registry-filter.json";

    [JsonPropertyName("version")]
    public int Version { get; init; } = 1;

    [JsonPropertyName("source")]
    public required StateSource Source { get; init; }

    [JsonPropertyName("use")]
    public required string Use { get; init; }

    [JsonPropertyName("removed")]
    public string? RemovedFolder { get; init; }

    /// <summary>The <c>--url-column</c> named (null: the first of the usual names).</summary>
    [JsonPropertyName("url_column")]
    public string? UrlColumn { get; init; }

    /// <summary>The <c>--min-trust-for-grants</c> of a run from a snapshot (null online, where the registry's own setting decides).</summary>
    [JsonPropertyName("min_trust_for_grants")]
    public string? MinTrustForGrants { get; init; }

    [JsonPropertyName("started")]
    public DateTimeOffset Started { get; init; }

    /// <summary>The source's seq when the run began (online: the registry's then; a resumed run keeps it). Null in a state written before it was kept.</summary>
    [JsonPropertyName("seq")]
    public long? Seq { get; init; }

    [JsonPropertyName("files")]
    public Dictionary<string, FileProgress> Files { get; init; } = new(StringComparer.Ordinal);

    public static FilterState? Read(string folder) =>
        AtomicFile.ReadState(Path.Combine(folder, FileName), CliJson.Default.FilterState, "start again with --overwrite");

    public void Save(string folder) => AtomicFile.WriteJson(Path.Combine(folder, FileName), this, CliJson.Default.FilterState);
}

/// <summary>The source a run decided with: resuming against another one would mix two registries' answers.</summary>
public sealed record StateSource(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("registry")] string? Registry,
    [property: JsonPropertyName("snapshot")] string? Snapshot);

/// <summary>One input file's progress and counts.</summary>
public sealed class FileProgress
{
    [JsonPropertyName("input_size")]
    public long InputSize { get; set; }

    [JsonPropertyName("row_groups")]
    public int RowGroups { get; set; }

    [JsonPropertyName("row_groups_done")]
    public int RowGroupsDone { get; set; }

    [JsonPropertyName("rows")]
    public long Rows { get; set; }

    [JsonPropertyName("kept")]
    public long Kept { get; set; }

    [JsonPropertyName("removed")]
    public long Removed { get; set; }

    [JsonPropertyName("invalid_urls")]
    public long InvalidUrls { get; set; }

    [JsonPropertyName("done")]
    public bool Done { get; set; }

    [JsonPropertyName("kept_output")]
    public OutputCheckpoint? KeptOutput { get; set; }

    [JsonPropertyName("removed_output")]
    public OutputCheckpoint? RemovedOutput { get; set; }
}

/// <summary>The evidence a builder files: what was filtered, against what, with which tool, when.</summary>
public sealed record FilterSummary(
    [property: JsonPropertyName("tool")] string Tool,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("command")] string Command,
    [property: JsonPropertyName("started")] DateTimeOffset Started,
    [property: JsonPropertyName("finished")] DateTimeOffset Finished,
    [property: JsonPropertyName("source")] SummarySource Source,
    [property: JsonPropertyName("use")] string Use,
    [property: JsonPropertyName("files")] IReadOnlyList<SummaryFile> Files,
    [property: JsonPropertyName("totals")] SummaryCounts Totals);

public sealed record SummarySource(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("registry")] string? Registry,
    [property: JsonPropertyName("snapshot")] string? Snapshot,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("snapshot_created")] DateTimeOffset? SnapshotCreated);

public sealed record SummaryFile(
    [property: JsonPropertyName("input")] string Input,
    [property: JsonPropertyName("kept_output")] string KeptOutput,
    [property: JsonPropertyName("removed_output")] string? RemovedOutput,
    [property: JsonPropertyName("counts")] SummaryCounts Counts);

public sealed record SummaryCounts(
    [property: JsonPropertyName("rows")] long Rows,
    [property: JsonPropertyName("kept")] long Kept,
    [property: JsonPropertyName("removed")] long Removed,
    [property: JsonPropertyName("invalid_urls")] long InvalidUrls);

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(FilterState))]
[JsonSerializable(typeof(FilterSummary))]
public sealed partial class CliJson : JsonSerializerContext;

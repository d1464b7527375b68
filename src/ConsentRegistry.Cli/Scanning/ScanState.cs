using System.Text.Json;
using System.Text.Json.Serialization;
using ConsentRegistry.Cli.Filtering;

namespace ConsentRegistry.Cli.Scanning;

/// <summary>
/// What a scan has finished, kept in the scanned folder (<see cref="FileName"/>) and replaced whole
/// after every shard, so that <c>--resume</c> skips the shards whose exclusions are written. It
/// also records what decides an image's exclusion (source, use, PDQ radius, minimum quality,
/// decode mode): resuming with other settings would mix two answers in one dataset.
/// </summary>
public sealed class ScanState
{
    public const string FileName = ".consent-registry-scan.json";

    [JsonPropertyName("version")]
    public int Version { get; init; } = 1;

    [JsonPropertyName("source")]
    public required StateSource Source { get; init; }

    [JsonPropertyName("settings")]
    public required ScanSettings Settings { get; init; }

    [JsonPropertyName("started")]
    public DateTimeOffset Started { get; init; }

    [JsonPropertyName("shards")]
    public Dictionary<string, ShardProgress> Shards { get; init; } = new(StringComparer.Ordinal);

    public static ScanState? Read(string folder) =>
        AtomicFile.ReadState(Path.Combine(folder, FileName), ScanJson.Default.ScanState, "run the scan without --resume to start again");

    /// <summary>Replaces the state file in <paramref name="folder"/>; a folder that refuses it (read-only, say) is an input error naming it.</summary>
    public void Save(string folder) => AtomicFile.WriteJson(Path.Combine(folder, FileName), this, ScanJson.Default.ScanState);
}

/// <summary>The settings that decide which images a scan excludes (<paramref name="MinTrustForGrants"/> only from a snapshot: online the registry's own setting decides).</summary>
public sealed record ScanSettings(
    [property: JsonPropertyName("use")] string Use,
    [property: JsonPropertyName("pdq_max_distance")] int PdqMaxDistance,
    [property: JsonPropertyName("min_quality")] int MinQuality,
    [property: JsonPropertyName("mode")] string Mode,
    [property: JsonPropertyName("embedding_model")] string? EmbeddingModel = null,
    [property: JsonPropertyName("min_similarity")] float? MinSimilarity = null,
    [property: JsonPropertyName("min_trust_for_grants")] string? MinTrustForGrants = null);

/// <summary>One shard's counts, the errors met in it (the first <see cref="MaxListedErrors"/>), whether its exclusions are written, and whether they cover every image.</summary>
public sealed class ShardProgress
{
    public const int MaxListedErrors = 100;

    [JsonPropertyName("size")]
    public long Size { get; set; }

    [JsonPropertyName("exclusions")]
    public string Exclusions { get; set; } = "";

    [JsonPropertyName("images")]
    public long Images { get; set; }

    [JsonPropertyName("excluded")]
    public long Excluded { get; set; }

    /// <summary>Images not decoded (corrupt, truncated, a decompression bomb, too large): looked up by SHA-256 and URL only.</summary>
    [JsonPropertyName("undecodable")]
    public long Undecodable { get; set; }

    /// <summary>Images whose PDQ hash is below the minimum quality: looked up by SHA-256 and URL only.</summary>
    [JsonPropertyName("low_quality")]
    public long LowQuality { get; set; }

    /// <summary>Sidecar URLs that are not http(s) URLs the registry can canonicalize: the image is looked up without them.</summary>
    [JsonPropertyName("invalid_urls")]
    public long InvalidUrls { get; set; }

    [JsonPropertyName("errors")]
    public List<ScanError> Errors { get; set; } = [];

    [JsonPropertyName("errors_left_off")]
    public long ErrorsLeftOff { get; set; }

    [JsonPropertyName("done")]
    public bool Done { get; set; }

    /// <summary>
    /// Some of the shard's images were not scanned (a file that could not be read, a tar that ends
    /// early or could not be opened, an image the registry did not decide): its exclusions file covers
    /// only the others, the scan ends with an input error, and <c>--resume</c> scans the shard again.
    /// </summary>
    [JsonPropertyName("incomplete")]
    public bool Incomplete { get; set; }

    public void AddError(string member, string error, bool unscanned = false)
    {
        Incomplete |= unscanned;
        if (Errors.Count < MaxListedErrors)
        {
            Errors.Add(new ScanError(member, error));
        }
        else
        {
            ErrorsLeftOff++;
        }
    }
}

/// <summary>A member of a shard (an image, a sidecar, the tar itself) that could not be used as it is, and why.</summary>
public sealed record ScanError(
    [property: JsonPropertyName("member")] string Member,
    [property: JsonPropertyName("error")] string Error);

/// <summary>The evidence a builder files: what was scanned, against what, with which tool and settings, when, and what it found.</summary>
public sealed record ScanSummary(
    [property: JsonPropertyName("tool")] string Tool,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("command")] string Command,
    [property: JsonPropertyName("started")] DateTimeOffset Started,
    [property: JsonPropertyName("finished")] DateTimeOffset Finished,
    [property: JsonPropertyName("source")] SummarySource Source,
    [property: JsonPropertyName("settings")] ScanSettings Settings,
    [property: JsonPropertyName("shards")] IReadOnlyDictionary<string, ShardProgress> Shards,
    [property: JsonPropertyName("totals")] ScanTotals Totals);

public sealed record ScanTotals(
    [property: JsonPropertyName("shards")] int Shards,
    [property: JsonPropertyName("images")] long Images,
    [property: JsonPropertyName("excluded")] long Excluded,
    [property: JsonPropertyName("undecodable")] long Undecodable,
    [property: JsonPropertyName("low_quality")] long LowQuality,
    [property: JsonPropertyName("invalid_urls")] long InvalidUrls,
    [property: JsonPropertyName("errors")] long Errors,
    [property: JsonPropertyName("incomplete_shards")] int IncompleteShards);

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ScanState))]
[JsonSerializable(typeof(ScanSummary))]
public sealed partial class ScanJson : JsonSerializerContext;

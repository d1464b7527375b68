using System.ComponentModel;
using ConsentRegistry.Cli.Console;
using ConsentRegistry.Cli.Deciding;
using ConsentRegistry.Cli.Filtering;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Pdq;
using ConsentRegistry.Imaging;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsentRegistry.Cli.Scanning;

/// <summary>
/// <c>consent-registry scan</c>: img2dataset output in (folder shards and webdataset tars), every
/// image hashed as the registry hashes uploads (SHA-256, PDQ, and with <c>--embeddings</c> its
/// embedding), looked up with its URL, and one
/// <c>&lt;shard&gt;.exclusions.parquet</c> per shard listing the images the registry opts out of
/// for the chosen use. Filtering URLs before download misses images re-hosted elsewhere; this
/// catches them by content.
/// </summary>
public sealed class ScanCommand : AsyncCommand<ScanCommand.Settings>
{
    public const string SummaryFileName = "scan-summary.json";

    public sealed class Settings : SourceSettings
    {
        [CommandArgument(0, "<FOLDER>")]
        [Description("The folder img2dataset wrote (its output_folder): shard folders 00000/… and/or webdataset tars 00000.tar….")]
        public string Folder { get; init; } = "";

        [CommandOption("--use <CATEGORY>")]
        [Description("The use the data is for: images whose decision for it is 'disallow' are excluded. tdm, train-ai (default), train-genai, ai-use or search.")]
        [DefaultValue(UseCategories.TrainAi)]
        public string Use { get; init; } = UseCategories.TrainAi;

        [CommandOption("--max-distance <BITS>")]
        [Description("PDQ match radius in bits (0 to 63): an image within it of a claimed hash matches.")]
        [DefaultValue(31)]
        public int MaxDistance { get; init; } = 31;

        [CommandOption("--min-quality <N>")]
        [Description("PDQ hashes of lower quality (0 to 100) are not matched, as Meta advises: flat or tiny images match unrelated ones. Their SHA-256 and URL still are.")]
        [DefaultValue(PdqQuality.Reliable)]
        public int MinQuality { get; init; } = PdqQuality.Reliable;

        [CommandOption("--fast")]
        [Description("Decode large JPEG and WebP images at a reduced scale: several times faster, the PDQ hash within a few bits of the exact one (docs/pdq.md).")]
        public bool Fast { get; init; }

        [CommandOption("--embeddings")]
        [Description("Also embed each image (the registry's model: the bundled ResNet18 unless --embedding-model names another) and match claimed vectors: finds copies PDQ misses. Slower: about 17 images a second per CPU core (docs/benchmarks.md).")]
        public bool Embeddings { get; init; }

        [CommandOption("--embedding-model <FILE>")]
        [Description("With --embeddings: a JSON file of the registry's Registry:Embedding settings (Id, ModelPath, InputSize, Mean, Std, …; docs/embeddings.md), for a registry that runs another model than the bundled one.")]
        public string? EmbeddingModel { get; init; }

        [CommandOption("--min-similarity <S>")]
        [Description("With --embeddings: the cosine similarity (0.5 to 1) a claimed vector must reach; default: the registry's (0.98 from a snapshot).")]
        public float? MinSimilarity { get; init; }

        [CommandOption("--device <DEVICE>")]
        [Description("With --embeddings: cpu (default) or cuda; cuda needs the GPU build (docs/cli.md) and an NVIDIA driver.")]
        [DefaultValue("cpu")]
        public string Device { get; init; } = "cpu";

        [CommandOption("--threads <N>")]
        [Description("Images decoded at once (default: one per core).")]
        public int? Threads { get; init; }

        [CommandOption("--resume")]
        [Description("Continue an interrupted scan: shards whose exclusions were written are skipped (unless they changed since).")]
        public bool Resume { get; init; }

        public override ValidationResult Validate()
        {
            if (UseCategories.IndexOf(Use) < 0)
            {
                return ValidationResult.Error($"--use must be one of {string.Join(", ", UseCategories.All)}.");
            }

            if (MaxDistance is < 0 or > 63 || MinQuality is < 0 or > 100)
            {
                return ValidationResult.Error("--max-distance is 0 to 63 bits and --min-quality 0 to 100.");
            }

            if (Threads is < 1 or > 1024)
            {
                return ValidationResult.Error("--threads is 1 to 1024.");
            }

            if (!Embeddings && (EmbeddingModel is not null || MinSimilarity is not null || Device != "cpu"))
            {
                return ValidationResult.Error("--embedding-model, --min-similarity and --device go with --embeddings.");
            }

            if (MinSimilarity is { } similarity && !(similarity is >= 0.5f and <= 1f))
            {
                return ValidationResult.Error("--min-similarity is 0.5 to 1.");
            }

            if (Device is not ("cpu" or "cuda"))
            {
                return ValidationResult.Error("--device is cpu or cuda.");
            }

            return base.Validate();
        }

        public ScanSettings Rules(ScanEmbedder? embedder) =>
            new(Use, MaxDistance, MinQuality, Fast ? "fast" : "exact", embedder?.ModelId, embedder is null ? null : MinSimilarity, Snapshot is null ? null : MinTrustForGrants);
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var root = CliPaths.Full(settings.Folder);
        var shards = Shard.Find(settings.Folder);
        var note = CliOutput.Notes(settings.Quiet);
        await using var source = await settings.OpenSourceAsync(note, cancellationToken);
        using var embedder = settings.Embeddings ? ScanEmbedder.Load(settings.EmbeddingModel, settings.Device, settings.MinSimilarity) : null;
        if (embedder is not null)
        {
            await source.CheckEmbeddingModelAsync(embedder.Probe(), cancellationToken);
            note($"embedding with {embedder.ModelId} on {embedder.Provider}");
        }

        var scanSettings = settings.Rules(embedder);
        var state = PrepareState(settings, scanSettings, root, shards, source.Description, started);
        var pending = shards.Where(shard => !IsFinished(state, shard)).ToList();
        var total = pending.Sum(ShardReader.Count);
        var rules = new ScanRules(UseCategories.IndexOf(settings.Use), settings.MaxDistance, settings.MinQuality, settings.Threads ?? Environment.ProcessorCount);
        var metadata = Metadata(source.Description, scanSettings);
        var hasher = new ImageHasher(settings.Fast ? ImageHashMode.Fast : ImageHashMode.Exact, embedder);

        await ProgressView.RunAsync(settings.Quiet, "scan", "images", total, async progress =>
        {
            var scanner = new ShardScanner(source, hasher, rules, progress);
            foreach (var shard in pending)
            {
                var shardState = state.Shards[shard.Name] = new ShardProgress { Size = shard.Size(), Exclusions = shard.ExclusionsPath };
                state.Save(root);
                await scanner.ScanAsync(shard, shardState, metadata, cancellationToken);
                state.Save(root);
                progress.Note($"{shard.Name}: {shardState.Images:N0} images, excluded {shardState.Excluded:N0}, undecodable {shardState.Undecodable:N0}{(shardState.Incomplete ? "; not read in full" : "")}");
            }

            return 0;
        });

        var summary = Summarize(state, source.Description, started);
        var summaryPath = Path.Combine(root, SummaryFileName);
        AtomicFile.WriteJson(summaryPath, summary, ScanJson.Default.ScanSummary);
        if (!settings.Quiet)
        {
            var totals = summary.Totals;
            System.Console.Out.WriteLine(
                $"{totals.Images:N0} images in {totals.Shards:N0} shards: excluded {totals.Excluded:N0} ({settings.Use}), undecodable {totals.Undecodable:N0}, against {source.Description}; summary in {summaryPath}");
        }

        if (summary.Totals.IncompleteShards > 0)
        {
            throw Incomplete(state, summaryPath);
        }

        return ExitCodes.Done;
    }

    /// <summary>
    /// A shard read only in part must not pass for scanned: its unread images would go to training
    /// unchecked. The other shards' exclusions are written; the run still fails, naming the shards.
    /// </summary>
    private static CliException Incomplete(ScanState state, string summaryPath)
    {
        var names = state.Shards.Where(shard => shard.Value.Incomplete).Select(shard => shard.Key).Order(StringComparer.Ordinal).ToList();
        var listed = string.Join(", ", names.Take(5)) + (names.Count > 5 ? $" and {names.Count - 5} more" : "");
        return CliException.Input(
            $"{names.Count} shard(s) could not be scanned in full ({listed}): their exclusions files cover only the images read; the errors are in {summaryPath}. Run again with --resume once they can be read.");
    }


    /// <summary>A shard is skipped on resume when its exclusions were written, cover every image, and it has not changed since.</summary>
    private static bool IsFinished(ScanState state, Shard shard) =>
        state.Shards.TryGetValue(shard.Name, out var done) && done is { Done: true, Incomplete: false } && done.Size == shard.Size() && File.Exists(shard.ExclusionsPath);

    private static ScanState PrepareState(Settings settings, ScanSettings rules, string root, List<Shard> shards, SourceDescription source, DateTimeOffset started)
    {
        var current = new StateSource(source.Kind, source.Registry, source.SnapshotId);
        var existing = settings.Resume ? ScanState.Read(root) : null;
        if (existing is not null)
        {
            if (existing.Source != current || existing.Settings != rules)
            {
                throw CliException.Input(
                    $"{root} holds a scan against {Describe(existing.Source)} with {Describe(existing.Settings)}; --resume continues it only with the same source and settings. Run without --resume to scan again.");
            }

            // Shards no longer there leave the record, so that the summary describes the folder as it is.
            var names = shards.Select(shard => shard.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in existing.Shards.Keys.Where(name => !names.Contains(name)).ToList())
            {
                existing.Shards.Remove(gone);
            }

            return existing;
        }

        var state = new ScanState { Source = current, Settings = rules, Started = started };
        state.Save(root);
        return state;
    }

    private static string Describe(StateSource source) => source.Kind == "snapshot" ? $"snapshot {source.Snapshot}" : $"registry {source.Registry}";

    private static string Describe(ScanSettings rules) =>
        $"--use {rules.Use} --max-distance {rules.PdqMaxDistance} --min-quality {rules.MinQuality}{(rules.Mode == "fast" ? " --fast" : "")}"
        + (rules.MinTrustForGrants is null ? "" : $" --min-trust-for-grants {rules.MinTrustForGrants}")
        + (rules.EmbeddingModel is null ? "" : $" --embeddings ({rules.EmbeddingModel}{(rules.MinSimilarity is { } similarity ? $", --min-similarity {similarity}" : "")})");

    /// <summary>Written into every exclusions file, so that a file moved away from its summary still says what decided it.</summary>
    private static Dictionary<string, string> Metadata(SourceDescription source, ScanSettings rules) => new()
    {
        ["consent_registry.tool"] = $"consent-registry {CliVersion.Current}",
        ["consent_registry.source"] = source.ToString(),
        ["consent_registry.settings"] = Describe(rules),
    };

    private static ScanSummary Summarize(ScanState state, SourceDescription source, DateTimeOffset started)
    {
        var shards = state.Shards;
        var totals = new ScanTotals(
            shards.Count, shards.Values.Sum(s => s.Images), shards.Values.Sum(s => s.Excluded), shards.Values.Sum(s => s.Undecodable),
            shards.Values.Sum(s => s.LowQuality), shards.Values.Sum(s => s.InvalidUrls), shards.Values.Sum(s => s.Errors.Count + s.ErrorsLeftOff),
            shards.Values.Count(s => s.Incomplete));
        return new ScanSummary(
            "consent-registry", CliVersion.Current, "scan", state.Started == default ? started : state.Started, DateTimeOffset.UtcNow,
            new SummarySource(source.Kind, source.Registry, source.SnapshotId, source.Seq, source.SnapshotCreated), state.Settings, shards, totals);
    }
}

using System.ComponentModel;
using ConsentRegistry.Cli.Console;
using ConsentRegistry.Cli.Deciding;
using ConsentRegistry.Core.Claims;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsentRegistry.Cli.Filtering;

/// <summary>
/// <c>consent-registry filter</c>: LAION/img2dataset-style Parquet in, the rows the registry does
/// not opt out of out (same schema, same metadata, one output file per input file), optionally
/// the removed rows with their decisions, and a summary of what was filtered against.
/// </summary>
public sealed class FilterCommand : AsyncCommand<FilterCommand.Settings>
{
    public const string SummaryFileName = "filter-summary.json";

    /// <summary>A file's row count taken for the ETA at most: more than any file holds, and a sum of millions of them cannot overflow.</summary>
    private const long MaxRowsCounted = 1L << 40;

    public sealed class Settings : SourceSettings
    {
        [CommandArgument(0, "<INPUT>")]
        [Description("A Parquet file, or a folder of them (*.parquet, not recursive).")]
        public string Input { get; init; } = "";

        [CommandOption("-o|--out <FOLDER>")]
        [Description("Where the kept rows go: one Parquet file per input file, with the input's name, schema and metadata.")]
        public string? Out { get; init; }

        [CommandOption("--use <CATEGORY>")]
        [Description("The use the data is for: rows whose decision for it is 'disallow' are removed; 'allow' and 'unknown' are kept. tdm, train-ai (default), train-genai, ai-use or search.")]
        [DefaultValue(UseCategories.TrainAi)]
        public string Use { get; init; } = UseCategories.TrainAi;

        [CommandOption("--url-column <NAME>")]
        [Description("The column that holds the image URL (default: the first of url, URL, image_url).")]
        public string? UrlColumn { get; init; }

        [CommandOption("--removed [FOLDER]")]
        [Description("Also write the removed rows, with the decision per category and the matched claim ids (default folder: <out>/removed).")]
        public FlagValue<string>? Removed { get; init; }

        [CommandOption("--resume")]
        [Description("Continue an interrupted run into the same --out: finished files and row groups are skipped.")]
        public bool Resume { get; init; }

        [CommandOption("--overwrite")]
        [Description("Start again into an --out that holds an earlier run.")]
        public bool Overwrite { get; init; }

        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Out))
            {
                return ValidationResult.Error("--out <FOLDER> is required.");
            }

            if (UseCategories.IndexOf(Use) < 0)
            {
                return ValidationResult.Error($"--use must be one of {string.Join(", ", UseCategories.All)}.");
            }

            if (Resume && Overwrite)
            {
                return ValidationResult.Error("--resume and --overwrite exclude each other.");
            }

            return base.Validate();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var inputs = FilterPaths.FindInputs(settings.Input);
        var output = CliPaths.Full(settings.Out!);
        var removedFolder = settings.Removed is { IsSet: true } removed
            ? CliPaths.Full(string.IsNullOrEmpty(removed.Value) ? Path.Combine(output, "removed") : removed.Value)
            : null;
        FilterPaths.CheckOutputs(inputs, output, removedFolder);
        FilterPaths.CreateFolder("--out", output);
        if (removedFolder is not null)
        {
            FilterPaths.CreateFolder("--removed", removedFolder);
        }

        // The footers first: a file that is not Parquet fails before any work, and the total gives the ETA.
        var rowCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            using var reader = ParquetFileFilter.Open(input);
            ParquetFileFilter.FindUrlColumn(input, reader.FileMetaData.Schema, settings.UrlColumn);
            // Only for the ETA, and unverified: a footer may claim any count (each row group's is checked as it is read).
            rowCounts[input] = Math.Clamp(reader.FileMetaData.NumRows, 0, MaxRowsCounted);
        }

        await using var source = await settings.OpenSourceAsync(CliOutput.Notes(settings.Quiet), cancellationToken);
        if (CliApp.OwnsProcess)
        {
            ThreadPoolLimit.ForFiltering();
        }

        var state = PrepareState(settings, output, removedFolder, source.Description, started);
        var use = UseCategories.IndexOf(settings.Use);
        var total = rowCounts.Values.Sum();

        await ProgressView.RunAsync(settings.Quiet, "filter", "rows", total, async progress =>
        {
            foreach (var done in state.Files.Values)
            {
                progress.Advance(done.Rows, done.Kept, done.Removed);
            }

            var filter = new ParquetFileFilter(source, use, progress);
            foreach (var input in inputs)
            {
                if (!state.Files.TryGetValue(input, out var file))
                {
                    state.Files[input] = file = new FileProgress { InputSize = new FileInfo(input).Length };
                }
                else if (file.InputSize != new FileInfo(input).Length)
                {
                    throw CliException.Input($"{input} changed since the interrupted run (its size differs); start again with --overwrite.");
                }

                if (file.Done)
                {
                    continue;
                }

                var name = Path.GetFileName(input);
                await filter.RunAsync(
                    input, Path.Combine(output, name), removedFolder is null ? null : Path.Combine(removedFolder, name),
                    settings.UrlColumn, file, () => state.Save(output), cancellationToken);
                progress.Note($"{name}: {file.Rows:N0} rows, kept {file.Kept:N0}, removed {file.Removed:N0}");
            }

            return 0;
        });

        var summary = Summarize(state, source.Description, settings.Use, output, removedFolder, started);
        AtomicFile.WriteJson(Path.Combine(output, SummaryFileName), summary, CliJson.Default.FilterSummary);
        if (!settings.Quiet)
        {
            System.Console.Out.WriteLine(
                $"{summary.Totals.Rows:N0} rows: kept {summary.Totals.Kept:N0}, removed {summary.Totals.Removed:N0} ({settings.Use}), against {source.Description}; summary in {Path.Combine(output, SummaryFileName)}");
        }

        return ExitCodes.Done;
    }

    private static FilterState PrepareState(Settings settings, string output, string? removedFolder, SourceDescription source, DateTimeOffset started)
    {
        var current = new StateSource(source.Kind, source.Registry, source.SnapshotId);
        var minTrustForGrants = settings.Snapshot is null ? null : settings.MinTrustForGrants;

        // --overwrite replaces the state unread: it is what the error for a state that cannot be read advises.
        var existing = settings.Overwrite ? null : FilterState.Read(output);
        if (existing is not null && settings.Resume)
        {
            if (existing.Source != current || existing.Use != settings.Use || existing.RemovedFolder != removedFolder
                || existing.UrlColumn != settings.UrlColumn || existing.MinTrustForGrants != minTrustForGrants)
            {
                throw CliException.Input(
                    $"{output} holds a run against {Describe(existing.Source)} for {existing.Use}{DescribeOptions(existing)}; "
                    + "--resume continues it only with the same source, --use, --removed, --url-column and --min-trust-for-grants. Start again with --overwrite.");
            }

            return existing;
        }

        if (existing is not null)
        {
            throw CliException.Input($"{output} holds an earlier filter run: add --resume to continue it, or --overwrite to start again.");
        }

        var state = new FilterState
        {
            Source = current, Use = settings.Use, RemovedFolder = removedFolder, UrlColumn = settings.UrlColumn, MinTrustForGrants = minTrustForGrants, Started = started,
            Seq = source.Seq,
        };
        state.Save(output);
        return state;
    }

    private static string Describe(StateSource source) => source.Kind == "snapshot" ? $"snapshot {source.Snapshot}" : $"registry {source.Registry}";

    /// <summary>The options a run recorded besides its source and use, as they were given: " with --removed --url-column link", or nothing.</summary>
    private static string DescribeOptions(FilterState state)
    {
        string?[] options =
        [
            state.RemovedFolder is null ? null : "--removed",
            state.UrlColumn is null ? null : $"--url-column {state.UrlColumn}",
            state.MinTrustForGrants is null ? null : $"--min-trust-for-grants {state.MinTrustForGrants}",
        ];
        var given = options.OfType<string>().ToList();
        return given.Count == 0 ? "" : $" with {string.Join(' ', given)}";
    }

    private static FilterSummary Summarize(FilterState state, SourceDescription source, string use, string output, string? removedFolder, DateTimeOffset started)
    {
        var files = state.Files.Select(pair => new SummaryFile(
                pair.Key,
                Path.Combine(output, Path.GetFileName(pair.Key)),
                removedFolder is null ? null : Path.Combine(removedFolder, Path.GetFileName(pair.Key)),
                new SummaryCounts(pair.Value.Rows, pair.Value.Kept, pair.Value.Removed, pair.Value.InvalidUrls)))
            .ToList();
        var totals = new SummaryCounts(files.Sum(f => f.Counts.Rows), files.Sum(f => f.Counts.Kept), files.Sum(f => f.Counts.Removed), files.Sum(f => f.Counts.InvalidUrls));
        return new FilterSummary(
            "consent-registry", CliVersion.Current, "filter", state.Started == default ? started : state.Started, DateTimeOffset.UtcNow,
            new SummarySource(source.Kind, source.Registry, source.SnapshotId, state.Seq ?? source.Seq, source.SnapshotCreated), use, files, totals);
    }
}

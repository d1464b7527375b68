using ConsentRegistry.Cli.Filtering;
using ConsentRegistry.Cli.Scanning;
using ConsentRegistry.Cli.Snapshots;
using Spectre.Console.Cli;
using ConsentRegistry.Cli.Console;

namespace ConsentRegistry.Cli;

/// <summary>The <c>consent-registry</c> command line: its commands, their help and examples, and the exit codes of <see cref="ExitCodes"/>.</summary>
public static class CliApp
{
    /// <summary>
    /// True when this process runs the command and nothing else (Program sets it). Settings of the
    /// whole process, such as <see cref="ThreadPoolLimit"/>, are made only then, never in a host
    /// that runs commands in-process beside other work (the tests).
    /// </summary>
    public static bool OwnsProcess { get; set; }

    public static async Task<int> RunAsync(string[] args, TextWriter errors, CancellationToken cancellationToken)
    {
        CliOutput.Use(errors);
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("consent-registry");
            config.SetApplicationVersion(CliVersion.Current);
            config.Settings.StrictParsing = true;
            config.SetExceptionHandler((exception, _) => Report(exception, errors, cancellationToken));

            config.AddCommand<FilterCommand>("filter")
                .WithDescription("Filter LAION/img2dataset-style Parquet: writes the rows the registry does not opt out of, with the input's schema and metadata.")
                .WithExample("filter", "laion-part-00000.parquet", "--out", "kept/", "--registry", "https://registry.example")
                .WithExample("filter", "metadata/", "--out", "kept/", "--snapshot", "index.snap", "--removed")
                .WithExample("filter", "metadata/", "--out", "kept/", "--snapshot", "index.snap", "--resume")
                .WithExample("filter", "metadata/", "--out", "kept/", "--registry", "https://registry.example", "--use", "train-genai", "--url-column", "image_link");

            config.AddCommand<ScanCommand>("scan")
                .WithDescription("Scan img2dataset output (files or webdataset tar shards): SHA-256, PDQ and (--embeddings) the embedding of every image, looked up; one <shard>.exclusions.parquet per shard.")
                .WithExample("scan", "images/", "--registry", "https://registry.example")
                .WithExample("scan", "images/", "--snapshot", "index.snap", "--resume")
                .WithExample("scan", "images/", "--snapshot", "index.snap", "--embeddings", "--min-similarity", "0.95");

            config.AddBranch("snapshot", snapshot =>
            {
                snapshot.SetDescription("Download and inspect signed index snapshots, for filtering without the network.");
                snapshot.AddCommand<SnapshotPullCommand>("pull")
                    .WithDescription("Download the registry's newest snapshot (resumable), check its size, SHA-256 and signature.")
                    .WithExample("snapshot", "pull", "--registry", "https://registry.example", "--out", "index.snap")
                    .WithExample("snapshot", "pull", "--registry", "https://registry.example", "--out", "index.snap", "--key", "registry-key.jwk");
                snapshot.AddCommand<SnapshotInfoCommand>("info")
                    .WithDescription("Show a snapshot file's id, seq, creation time, store, format and what it holds.")
                    .WithExample("snapshot", "info", "index.snap");
            });
        });

        return await app.RunAsync(args, cancellationToken);
    }

    /// <summary>One line on stderr, and the exit code the README documents.</summary>
    private static int Report(Exception exception, TextWriter errors, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case CliException cli:
                errors.WriteLine($"consent-registry: {cli.Message}");
                return cli.ExitCode;
            case OperationCanceledException when cancellationToken.IsCancellationRequested:
                errors.WriteLine("consent-registry: stopped; what was finished is recorded: run the same command with --resume to continue.");
                return ExitCodes.Interrupted;
            case CommandAppException usage:
                errors.WriteLine($"consent-registry: {usage.Message} (see --help)");
                return ExitCodes.Usage;
            default:
                errors.WriteLine($"consent-registry: unexpected error: {exception.GetType().Name}: {exception.Message}");
                return 70; // EX_SOFTWARE: a bug; the message says where
        }
    }
}

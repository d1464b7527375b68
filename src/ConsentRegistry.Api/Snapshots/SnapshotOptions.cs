using ConsentRegistry.Api.Hosting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Snapshots;

/// <summary><c>Registry:Snapshots</c>: where index snapshots live, when they are written and how many are kept.</summary>
public sealed class SnapshotOptions
{
    public const string Section = "Registry:Snapshots";

    /// <summary>Write snapshots, and start from the newest valid one.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The folder of snapshots (one folder each, named by id); created when absent.</summary>
    public string Path { get; set; } = "data/snapshots";

    /// <summary>A new snapshot is written once the log has grown by this many entries since the last one.</summary>
    public long EveryLogEntries { get; set; } = 100_000;

    /// <summary>Snapshots kept; older ones are deleted once a new one is in place.</summary>
    public int Keep { get; set; } = 3;

    /// <summary>How often the log's growth is checked.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(30);
}

internal sealed class SnapshotOptionsValidator : IValidateOptions<SnapshotOptions>
{
    public ValidateOptionsResult Validate(string? name, SnapshotOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Path))
        {
            failures.Add("Registry:Snapshots:Path is empty; name the folder for index snapshots (created when absent).");
        }

        if (options.EveryLogEntries < 1)
        {
            failures.Add($"Registry:Snapshots:EveryLogEntries is {options.EveryLogEntries}; use 1 or more (log entries between snapshots).");
        }

        if (options.Keep is < 1 or > 100)
        {
            failures.Add($"Registry:Snapshots:Keep is {options.Keep}; use 1 to 100.");
        }

        if (options.CheckInterval < TimeSpan.FromMilliseconds(100) || options.CheckInterval > TimeSpan.FromDays(1))
        {
            failures.Add($"Registry:Snapshots:CheckInterval is {options.CheckInterval}; use 00:00:00.1 to 1.00:00:00.");
        }

        return failures.Result();
    }
}

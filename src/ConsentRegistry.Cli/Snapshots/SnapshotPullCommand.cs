using ConsentRegistry.Cli.Console;
using Spectre.Console.Cli;

namespace ConsentRegistry.Cli.Snapshots;

// PLACEHOLDER while snapshot pull is being written: replaced before this command is documented.
public sealed class SnapshotPullCommand : AsyncCommand<SnapshotPullCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
    }

    public override Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        throw new NotImplementedException("snapshot pull");
}

// PLACEHOLDER while snapshot info is being written.
public sealed class SnapshotInfoCommand : AsyncCommand<SnapshotInfoCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
    }

    public override Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        throw new NotImplementedException("snapshot info");
}

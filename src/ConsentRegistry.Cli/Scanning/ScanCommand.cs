using ConsentRegistry.Cli.Console;
using Spectre.Console.Cli;

namespace ConsentRegistry.Cli.Scanning;

// PLACEHOLDER while scan is being written: replaced before this command is documented.
public sealed class ScanCommand : AsyncCommand<ScanCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
    }

    public override Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        throw new NotImplementedException("scan");
}

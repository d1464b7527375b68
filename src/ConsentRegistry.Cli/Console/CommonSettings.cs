using System.ComponentModel;
using Spectre.Console.Cli;

namespace ConsentRegistry.Cli.Console;

/// <summary>Options every command takes.</summary>
public class CommonSettings : CommandSettings
{
    [CommandOption("-q|--quiet")]
    [Description("No progress output; errors only (the summary is still written).")]
    public bool Quiet { get; init; }
}

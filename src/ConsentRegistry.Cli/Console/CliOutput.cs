namespace ConsentRegistry.Cli.Console;

/// <summary>
/// Where a run's messages go: stderr, or the writer its caller gave <see cref="CliApp.RunAsync"/>
/// (the tests run the command in process). Held per run, so runs side by side do not mix.
/// </summary>
internal static class CliOutput
{
    private static readonly AsyncLocal<TextWriter?> CurrentErrors = new();

    /// <summary>Progress lines, notes and errors.</summary>
    public static TextWriter Errors => CurrentErrors.Value ?? System.Console.Error;

    /// <summary>Sends this run's messages to <paramref name="errors"/> (for the rest of the calling async flow).</summary>
    public static void Use(TextWriter errors) => CurrentErrors.Value = errors;

    /// <summary>A console for a live progress bar on this run's error output; null when that is not a terminal (plain lines then).</summary>
    public static Spectre.Console.IAnsiConsole? InteractiveConsole()
    {
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(Errors) });
        return console.Profile.Capabilities.Interactive && !System.Console.IsErrorRedirected ? console : null;
    }

    /// <summary>What a command passes on for notes (a retry, a file finished): nothing with <c>--quiet</c>.</summary>
    public static Action<string> Notes(bool quiet) => quiet ? static _ => { } : static line => Errors.WriteLine(line);
}

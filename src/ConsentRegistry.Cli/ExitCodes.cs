namespace ConsentRegistry.Cli;

/// <summary>The command's exit codes (README, "For dataset builders"): scripts and schedulers branch on them.</summary>
public static class ExitCodes
{
    /// <summary>Everything asked for was done.</summary>
    public const int Done = 0;

    /// <summary>The command line is wrong: an unknown command or option, a missing argument, conflicting options.</summary>
    public const int Usage = 1;

    /// <summary>An input cannot be used, or an output cannot be written: not Parquet, no URL column, a truncated file, not a snapshot, an output folder in use, a full disk; a shard <c>scan</c> could not read in full.</summary>
    public const int InputError = 2;

    /// <summary>The registry could not be reached, refused the API key, or kept failing after retries.</summary>
    public const int RegistryUnreachable = 3;

    /// <summary>A snapshot failed its checks: signature, size, SHA-256, or another key than the pinned one.</summary>
    public const int VerificationFailed = 4;

    /// <summary>Stopped by Ctrl-C (or SIGTERM); the state written so far lets <c>--resume</c> continue.</summary>
    public const int Interrupted = 130;
}

/// <summary>An error the command reports as one line and exits with <see cref="ExitCode"/>.</summary>
public sealed class CliException(int exitCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;

    public static CliException Input(string message, Exception? inner = null) => new(ExitCodes.InputError, message, inner);

    public static CliException Registry(string message, Exception? inner = null) => new(ExitCodes.RegistryUnreachable, message, inner);

    public static CliException Verification(string message) => new(ExitCodes.VerificationFailed, message);
}

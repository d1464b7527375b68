using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using ConsentRegistry.Cli.Console;

namespace ConsentRegistry.Cli.Snapshots;

/// <summary>How far a download is: the bytes of the file held so far (they go back to 0 when it starts over).</summary>
internal interface IDownloadProgress
{
    void Report(long bytes);

    /// <summary>A line worth keeping (a retry, a restart), shown above the bar.</summary>
    void Note(string line);
}

/// <summary>
/// A download's progress on stderr, in bytes: a Spectre.Console bar with size and speed when
/// stderr is a terminal, a plain line every few seconds when it is not, nothing with
/// <c>--quiet</c>. (<see cref="Console.ProgressView"/> counts rows kept and removed, which a
/// download has none of.)
/// </summary>
internal static class DownloadProgress
{
    private static readonly TimeSpan PlainEvery = TimeSpan.FromSeconds(5);

    public static async Task RunAsync(bool quiet, string label, long total, Func<IDownloadProgress, Task> work)
    {
        if (quiet)
        {
            await work(new Silent());
            return;
        }

        if (CliOutput.InteractiveConsole() is not { } console)
        {
            await work(new Plain(label, total));
            return;
        }

        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(label), maxValue: Math.Max(total, 1));
                await work(new Bar(console, task));
            });
    }

    private sealed class Silent : IDownloadProgress
    {
        public void Report(long bytes)
        {
        }

        public void Note(string line)
        {
        }
    }

    private sealed class Bar(IAnsiConsole console, ProgressTask task) : IDownloadProgress
    {
        public void Report(long bytes) => task.Value = bytes;

        public void Note(string line) => console.WriteLine(line);
    }

    private sealed class Plain(string label, long total) : IDownloadProgress
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private TimeSpan _lastReport;
        private long _first = -1;
        private long _lastBytes = -1;

        public void Report(long bytes)
        {
            if (_first < 0)
            {
                _first = bytes; // a resumed download's rate counts only what this run fetched
            }

            var due = _clock.Elapsed - _lastReport >= PlainEvery || (bytes >= total && bytes != _lastBytes);
            if (!due)
            {
                return;
            }

            _lastReport = _clock.Elapsed;
            _lastBytes = bytes;
            var rate = Math.Max(bytes - _first, 0) / Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
            CliOutput.Errors.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label}: {Size(bytes)} of {Size(total)} ({100.0 * bytes / Math.Max(total, 1):F1} %), {Size((long)rate)}/s"));
        }

        public void Note(string line) => CliOutput.Errors.WriteLine(line);

        private static string Size(long bytes) => bytes switch
        {
            < 1L << 10 => $"{bytes} B",
            < 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB"),
            < 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:F1} MiB"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1073741824.0:F2} GiB"),
        };
    }
}

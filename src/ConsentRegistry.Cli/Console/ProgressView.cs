using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace ConsentRegistry.Cli.Console;

/// <summary>What a long job reports as it goes: items done, and how many were kept and removed.</summary>
public interface IProgressSink
{
    void Advance(long items, long kept, long removed);

    /// <summary>A line worth keeping in the log (a file started or finished, a retry).</summary>
    void Note(string line);
}

/// <summary>
/// Progress on stderr: a Spectre.Console bar (items/s, ETA, kept and removed so far) when stderr
/// is a terminal, a plain line every few seconds when it is not (CI logs, schedulers), nothing
/// with <c>--quiet</c>. stdout stays free for the command's result.
/// </summary>
public static class ProgressView
{
    private static readonly TimeSpan PlainEvery = TimeSpan.FromSeconds(5);

    public static async Task<T> RunAsync<T>(bool quiet, string verb, string unit, long total, Func<IProgressSink, Task<T>> work)
    {
        if (quiet)
        {
            return await work(new Silent());
        }

        if (CliOutput.InteractiveConsole() is not { } console)
        {
            var plain = new Plain(verb, unit, total);
            try
            {
                return await work(plain);
            }
            finally
            {
                plain.Report(final: true);
            }
        }

        T result = default!;
        await console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RateColumn(unit), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(verb, maxValue: Math.Max(total, 1));
                var bar = new Bar(console, task, verb);
                result = await work(bar);
                task.Value = task.MaxValue;
            });
        return result;
    }

    private sealed class Silent : IProgressSink
    {
        public void Advance(long items, long kept, long removed)
        {
        }

        public void Note(string line)
        {
        }
    }

    private sealed class Bar(IAnsiConsole console, ProgressTask task, string verb) : IProgressSink
    {
        private long _kept;
        private long _removed;

        public void Advance(long items, long kept, long removed)
        {
            var k = Interlocked.Add(ref _kept, kept);
            var r = Interlocked.Add(ref _removed, removed);
            task.Description = $"{verb} [green]kept {k:N0}[/] [red]removed {r:N0}[/]";
            task.Increment(items);
        }

        /// <summary>Above the bar (a file finished, a retry): the console keeps the live display below it.</summary>
        public void Note(string line) => console.WriteLine(line);
    }

    private sealed class Plain(string verb, string unit, long total) : IProgressSink
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Lock _lock = new();
        private long _items;
        private long _kept;
        private long _removed;
        private TimeSpan _lastReport;

        public void Advance(long items, long kept, long removed)
        {
            lock (_lock)
            {
                _items += items;
                _kept += kept;
                _removed += removed;
                if (_clock.Elapsed - _lastReport >= PlainEvery)
                {
                    Report(final: false);
                }
            }
        }

        public void Note(string line) => CliOutput.Errors.WriteLine(line);

        public void Report(bool final)
        {
            lock (_lock)
            {
                _lastReport = _clock.Elapsed;
                var seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
                var rate = _items / seconds;
                var share = total > 0 ? $" / {total:N0} ({100.0 * _items / total:F1} %)" : "";
                var eta = !final && total > _items && rate > 0 ? $", ETA {TimeSpan.FromSeconds((total - _items) / rate):hh\\:mm\\:ss}" : "";
                CliOutput.Errors.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{verb}: {_items:N0}{share} {unit}, {rate:N0} {unit}/s, kept {_kept:N0}, removed {_removed:N0}{eta}{(final ? $", {seconds:F1} s" : "")}"));
            }
        }
    }

    /// <summary>Items per second, as the task's own speed estimate has it.</summary>
    private sealed class RateColumn(string unit) : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is { } speed ? string.Create(CultureInfo.InvariantCulture, $"{speed:N0} {unit}/s") : $"– {unit}/s");
    }
}

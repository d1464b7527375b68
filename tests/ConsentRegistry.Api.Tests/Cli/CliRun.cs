using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Cli;
using DuckDB.NET.Data;

namespace ConsentRegistry.Api.Tests.Cli;

/// <summary>Runs the consent-registry command in this process (or as a process of its own) and reads Parquet with DuckDB.</summary>
internal static partial class CliRun
{
    /// <summary>Runs the command with <paramref name="args"/>; its exit code and what it wrote to stderr.</summary>
    public static async Task<(int Exit, string Errors)> RunAsync(params string[] args)
    {
        using var errors = new StringWriter();
        var exit = await CliApp.RunAsync(args, errors, CancellationToken.None);
        return (exit, errors.ToString());
    }

    /// <summary>The command as a process of its own (for killing it mid-run).</summary>
    public static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "consent-registry.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>
    /// Runs <paramref name="program"/> to its end (at most <paramref name="timeout"/>), with
    /// <paramref name="environment"/> set over this process's: its exit code, stdout and stderr.
    /// </summary>
    public static async Task<(int Exit, string Out, string Errors)> RunProgramAsync(
        string program, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "" };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var stop = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} ran past {timeout.TotalSeconds:N0} s.");
        }

        return (process.ExitCode, await output, await errors);
    }

    /// <summary>A command's resume-state file as JSON; null while it is not there yet.</summary>
    public static JsonNode? ReadState(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Lets a running command go on in steps of a few milliseconds, stopped (SIGSTOP) between them,
    /// until its state file says <paramref name="reached"/> (60 s at most; fails if the command ends
    /// first), and leaves it stopped there. What the test does next (an interrupt, a kill) then meets
    /// the command where its state says, however late this process's own threads are scheduled: a
    /// command left to run while a loaded test host polls can finish before the test acts.
    /// </summary>
    public static void StopWhen(Process process, string path, Func<JsonNode, bool> reached, string what)
    {
        Signal(process, Sigstop);
        Step(process, () => ReadState(path) is { } state && reached(state), $"the command did not record {what}", mayExit: false);
    }

    /// <summary>
    /// Ctrl-C (SIGINT) to a command that <see cref="StopWhen"/> left stopped, which then goes on to
    /// handle it in the same steps, until it ends. Continued freely, its workers could run on while
    /// its signal-handling thread waited for a core on a loaded test host: a filter of 600,000 rows
    /// is about half a second of work, and one run recorded nearly every row group before it saw the
    /// interrupt, leaving nothing to resume.
    /// </summary>
    public static void Interrupt(Process process)
    {
        Signal(process, Sigint);
        Step(process, () => process.HasExited, "the command did not end after its interrupt", mayExit: true);
    }

    /// <summary>
    /// Lets a stopped command run for a few milliseconds at a time, stopped again between the steps,
    /// until <paramref name="done"/> (60 s at most; a command that ends first fails the test unless
    /// <paramref name="mayExit"/>). On failure the command is killed: disposing a Process does not end
    /// it, and a failed test would leave it stopped for good.
    /// </summary>
    private static void Step(Process process, Func<bool> done, string failure, bool mayExit)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        try
        {
            while (!done())
            {
                Assert.True(DateTime.UtcNow < deadline && (mayExit || !process.HasExited), failure);
                Signal(process, Sigcont);
                Thread.Sleep(5);
                Signal(process, Sigstop);
            }
        }
        catch
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            throw;
        }
    }

    private const int Sigint = 2;
    private const int Sigcont = 18;
    private const int Sigstop = 19;

    /// <summary>Sends <paramref name="signal"/>; for SIGSTOP, waits until the command is stopped (or gone).</summary>
    private static void Signal(Process process, int signal)
    {
        if (Kill(process.Id, signal) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Assert.True(process.HasExited, $"signal {signal} could not be sent: errno {errno}");
            return;
        }

        while (signal == Sigstop && ProcessState(process.Id) is not ('T' or 'Z' or null))
        {
            Thread.Yield();
        }
    }

    /// <summary>The state letter of /proc/<paramref name="pid"/>/stat (R, S, T, Z, ...); null once the process is gone.</summary>
    private static char? ProcessState(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2];
        }
        catch (IOException)
        {
            return null;
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Runs <paramref name="sql"/> in a fresh in-memory DuckDB and returns its rows.</summary>
    public static List<object?[]> Query(string sql)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    public static void Execute(string sql) => Query(sql);

    /// <summary>The single number <paramref name="sql"/> selects (DuckDB sums are 128-bit).</summary>
    public static long Count(string sql) => Query(sql)[0][0] switch
    {
        System.Numerics.BigInteger big => (long)big,
        null => 0,
        var value => Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>A Parquet file's columns as DuckDB sees them: (name, type).</summary>
    public static List<(string Name, string Type)> Describe(string path) =>
        [.. Query($"DESCRIBE SELECT * FROM '{path}'").Select(row => ((string)row[0]!, (string)row[1]!))];
}

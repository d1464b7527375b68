using System.Runtime.InteropServices;

namespace ConsentRegistry.Api.Hosting;

/// <summary>
/// Lowers the calling thread's scheduling priority, for threads doing bulk work that requests must
/// not wait behind. .NET's <see cref="Thread.Priority"/> does nothing on Linux; there a thread has a
/// nice value of its own (Linux schedules threads as tasks), which any process may raise for its own
/// threads. Elsewhere this does nothing.
/// </summary>
public static partial class ThreadNiceness
{
    /// <summary>
    /// How much nicer than the process such a thread runs: at 10 it gets about a tenth of a core
    /// that a thread of the process's own niceness also wants (Linux's scheduler weights 110 and 1024).
    /// </summary>
    public const int Step = 10;

    private const int PriorityOfProcess = 0; // PRIO_PROCESS: with a thread id, that thread alone
    private const int Nicest = 19;

    /// <summary>Makes the calling thread <see cref="Step"/> nicer than it is; false where that is not possible here.</summary>
    public static bool Lower()
    {
        if (Current() is not { } nice)
        {
            return false;
        }

        try
        {
            return SetPriority(PriorityOfProcess, GetThreadId(), Math.Min(Nicest, nice + Step)) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The calling thread's nice value (Linux only; null elsewhere or when it cannot be read).</summary>
    public static int? Current()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            Marshal.SetLastPInvokeError(0);
            var nice = GetPriority(PriorityOfProcess, GetThreadId());
            return nice == -1 && Marshal.GetLastPInvokeError() != 0 ? null : nice;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "gettid")]
    private static partial int GetThreadId();

    [LibraryImport("libc.so.6", EntryPoint = "getpriority", SetLastError = true)]
    private static partial int GetPriority(int which, int who);

    [LibraryImport("libc.so.6", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int priority);
}

using System.Runtime.CompilerServices;

namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>
/// This test process hosts dozens of registries at once (xUnit runs classes in parallel), each
/// with its background services and CPU-bound image work on pool threads. On a two-core machine
/// the pool starts with two threads and adds about one every half second while starved, so a
/// test measuring a deadline (a claim seen by another instance within a second) could wait on
/// the pool, not on the registry. A deployment runs one registry a process; the tests give theirs
/// the threads that many would have.
/// </summary>
internal static class TestHostThreads
{
    private const int MinThreads = 32;

#pragma warning disable CA2255 // a test assembly's own start-up, not a library's
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Raise()
    {
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        ThreadPool.SetMinThreads(Math.Max(workers, MinThreads), Math.Max(completionPorts, MinThreads));
    }
}

namespace ConsentRegistry.Cli.Deciding;

/// <summary>
/// Deciding rows from a snapshot is CPU-bound from end to end, yet the thread pool keeps adding
/// threads while every one is busy (about one per half second), and each pool thread keeps one
/// pooled array of every size it has used (ArrayPool.Shared's per-thread cache; Parquet.Net rents
/// its column buffers there, up to tens of MB each). On the 10-million-subject filter benchmark the
/// pool grew to nine threads in ten seconds and the heap after a full collection grew with it, by
/// about 150 MiB; capped at one thread a core the peak was 60-90 MiB lower than at one more, for
/// about the same time (docs/benchmarks.md, "consent-registry").
/// </summary>
internal static class ThreadPoolLimit
{
    /// <summary>Caps the pool's worker threads at one a core; the I/O completion threads are left as they are.</summary>
    public static void ForCpuBoundWork()
    {
        ThreadPool.GetMaxThreads(out _, out var completionPorts);
        ThreadPool.SetMaxThreads(Environment.ProcessorCount, completionPorts);
    }
}

namespace ConsentRegistry.Cli.Filtering;

/// <summary>
/// The filter's own work is CPU-bound (Parquet decoded and encoded, rows decided from a snapshot)
/// or asynchronous (lookups over HTTP, which hold no thread while they wait), yet the thread pool
/// keeps adding threads while every one is busy (about one per half second), and each pool thread
/// keeps one pooled array of every size it has used (ArrayPool.Shared's per-thread cache: the
/// filter's verdicts and batches, and, when Parquet.Net read the files, its column buffers of up
/// to tens of MB). Measured then, on the 10-million-subject benchmark the pool grew to nine
/// threads in ten seconds and the heap after a full collection grew with it, by about 150 MiB.
/// Capped at one thread a core, the offline peak was 60-90 MiB lower than at one more, for about
/// the same time, and the online one 190-220 MiB lower than uncapped on 20 M rows, for up to a
/// tenth more time (docs/benchmarks.md, "consent-registry"). Parquet is now read and written
/// natively, and one more thread still gains nothing offline.
/// </summary>
internal static class ThreadPoolLimit
{
    /// <summary>Caps the pool's worker threads at one a core; the I/O completion threads are left as they are.</summary>
    public static void ForFiltering()
    {
        ThreadPool.GetMaxThreads(out _, out var completionPorts);
        ThreadPool.SetMaxThreads(Environment.ProcessorCount, completionPorts);
    }
}

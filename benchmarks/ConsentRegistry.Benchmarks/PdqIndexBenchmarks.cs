using BenchmarkDotNet.Attributes;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Benchmarks;

/// <summary>
/// Exact PDQ radius search (<see cref="PdqIndex"/>, decision record 0004) over uniformly random
/// hashes, one query at a time on one thread: Op/s is queries per second. Random queries have no
/// hash within the radius, so every candidate the slots produce is checked and dropped, the
/// worst case for probing. The setup prints the index's bytes per hash (its arrays, and the
/// managed heap growth) and how long the build took.
/// </summary>
[MemoryDiagnoser]
[OperationsPerSecond]
public class PdqIndexBenchmarks
{
    private const int QueriesPerInvoke = 64;

    private PdqIndex _index = new();
    private PdqHash[] _queries = [];
    private int _next;

    [Params(1_000_000, 10_000_000)]
    public int Hashes { get; set; }

    /// <summary>Compacted (one segment, as after the start-up build) or as left by the adds alone.</summary>
    [Params(true, false)]
    public bool Compacted { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(20260401);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        _index = new PdqIndex();
        for (var i = 0; i < Hashes; i++)
        {
            _index.Add(RandomHash(random), i);
        }

        var added = clock.Elapsed;
        if (Compacted)
        {
            _index.Compact();
        }

        var built = clock.Elapsed;
        var heap = GC.GetTotalMemory(forceFullCollection: true) - before;
        Console.WriteLine(
            $"// PdqIndex {Hashes:N0} hashes: adds {added.TotalSeconds:F1} s, compaction {(built - added).TotalSeconds:F1} s, {_index.SegmentCount} segment(s); "
            + $"bytes per hash: arrays {(double)_index.Bytes / Hashes:F2} ({((double)_index.Bytes / Hashes) - sizeof(int):F2} without the 4-byte value), "
            + $"heap growth {(double)heap / Hashes:F2}");
        _queries = Enumerable.Range(0, 4096).Select(_ => RandomHash(random)).ToArray();
    }

    [Benchmark(OperationsPerInvoke = QueriesPerInvoke)]
    public int Radius31() => Search(31);

    [Benchmark(OperationsPerInvoke = QueriesPerInvoke)]
    public int Radius47() => Search(47);

    [Benchmark(OperationsPerInvoke = QueriesPerInvoke)]
    public int Radius63() => Search(63);

    private int Search(int radius)
    {
        var sink = new CountingSink();
        for (var i = 0; i < QueriesPerInvoke; i++)
        {
            _index.Search(_queries[_next++ & (_queries.Length - 1)], radius, ref sink);
        }

        return sink.Hits;
    }

    private static PdqHash RandomHash(Random random)
    {
        Span<ulong> parts = stackalloc ulong[4];
        random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(parts));
        return new PdqHash(parts[0], parts[1], parts[2], parts[3]);
    }

    private struct CountingSink : IPdqHitSink
    {
        public int Hits;

        public void Add(int value, int distance, in PdqHash hash) => Hits++;
    }
}

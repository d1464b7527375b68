using System.Diagnostics;
using System.Runtime.CompilerServices;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Snapshots;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.LoadGen;

/// <summary>
/// Builds a <see cref="MatchingIndex"/> in this process from the <see cref="LookupUniverse"/>'s
/// subjects, claim by claim as the server's loader does, and reports the managed memory the index
/// holds per subject (the heap after a full collection with the index, less the heap before it),
/// the build time (canonicalizing included, store excluded) and its lookups per second.
/// </summary>
internal static class IndexMemory
{
    /// <param name="snapshot">
    /// When given, the index is then written to this snapshot file, dropped, read back (both timed),
    /// and the lookups are timed and checked on the index read back.
    /// </param>
    /// <param name="incremental">
    /// Adds claims as a serving index takes new ones (hot keys watched on every add), not as the
    /// build from the store does (hot keys found once, when it compacts).
    /// </param>
    /// <param name="compact">False: lookups on the index as the merges after each claim left it (a serving index after an intake), not compacted.</param>
    public static int Run(int subjects, int subjectsPerClaim, int lookupSeconds, string? snapshot = null, int sha256 = 0, int pdq = 0, bool incremental = false, bool compact = true)
    {
        var universe = new LookupUniverse(subjects);
        _ = Canonical(universe.RegisteredSubjects().Where((_, i) => i % 997 == 0).ToArray()); // loads the canonicalizer's tables first
        var before = Heap();
        var clock = Stopwatch.StartNew();
        var index = Build(universe.RegisteredSubjects().Concat(LookupUniverse.HashSubjects(sha256, pdq)), (long)subjects + sha256 + pdq, subjectsPerClaim, incremental, compact);
        clock.Stop();
        var held = Heap() - before;
        Console.WriteLine($"index:        {index.SubjectCount:N0} subjects in {index.ClaimCount:N0} claims, built in {clock.Elapsed.TotalSeconds:F2} s (canonicalizing included); {index.HotKeyCount:N0} hot keys");
        Console.WriteLine($"managed heap: {held / (1024.0 * 1024.0):F1} MiB held by the index, {(double)held / index.SubjectCount:F1} bytes per subject ({subjectsPerClaim:N0} per claim)");
        Console.WriteLine($"estimated:    {index.EstimatedBytes / (1024.0 * 1024.0):F1} MiB (the index's own count, as the metrics report it)");
        Console.WriteLine($"by part:      {string.Join(", ", index.EstimatedBytesByPart().Where(part => part.Bytes > 0).Select(part => Share(index, part)))}");
        if (snapshot is not null)
        {
            RoundTrip(ref index, snapshot, before);
        }

        return MeasureLookups(universe, index, lookupSeconds);
    }

    /// <summary>
    /// Reads a snapshot file that <c>index-memory --snapshot</c> wrote, in a fresh process as a
    /// starting service does (nothing compiled or warmed before), then times and checks lookups on it.
    /// </summary>
    public static int ReadSnapshot(string path, int subjects, int lookupSeconds)
    {
        var clock = Stopwatch.StartNew();
        MatchingIndex index;
        using (var reader = new SnapshotReader(path))
        {
            index = MatchingIndex.ReadSnapshot(reader);
        }

        clock.Stop();
        var bytes = new FileInfo(path).Length;
        Console.WriteLine($"read:         {bytes / (1024.0 * 1024.0):F1} MiB in {clock.Elapsed.TotalSeconds:F2} s ({bytes / (1024.0 * 1024.0) / clock.Elapsed.TotalSeconds:F0} MiB/s), {index.SubjectCount:N0} subjects");
        return MeasureLookups(new LookupUniverse(subjects), index, lookupSeconds);
    }

    /// <summary>Writes <paramref name="index"/> to a snapshot file, drops it, reads it back; reports both times, the size and the heap the index read back holds.</summary>
    private static void RoundTrip(ref MatchingIndex index, string path, long heapBefore)
    {
        File.Delete(path);
        var clock = Stopwatch.StartNew();
        using (var writer = new SnapshotWriter(path, new SnapshotHeader(SnapshotHeader.CurrentFormat, Guid.NewGuid(), index.AppliedSeq, DateTimeOffset.UtcNow)))
        {
            index.WriteSnapshot(writer);
            writer.Finish();
        }

        var written = clock.Elapsed;
        var bytes = new FileInfo(path).Length;
        Console.WriteLine($"snapshot:     {bytes / (1024.0 * 1024.0):F1} MiB ({(double)bytes / index.SubjectCount:F1} bytes per subject), written in {written.TotalSeconds:F2} s (fsync included)");
        var subjects = index.SubjectCount;
        index.Dispose();
        index = null!;
        _ = Heap();
        clock.Restart();
        using (var reader = new SnapshotReader(path))
        {
            index = MatchingIndex.ReadSnapshot(reader);
        }

        clock.Stop();
        var held = Heap() - heapBefore;
        Console.WriteLine($"read back:    {clock.Elapsed.TotalSeconds:F2} s ({bytes / (1024.0 * 1024.0) / clock.Elapsed.TotalSeconds:F0} MiB/s, file in the page cache), {held / (1024.0 * 1024.0):F1} MiB held, {(double)held / subjects:F1} bytes per subject");
    }

    /// <summary>
    /// Lookups per second on one thread, from the index alone: the queries (the universe's mix of
    /// hits and misses) are canonicalized first, so only the index's work is timed. Every answer
    /// is checked against what the universe registered: a registered URL must be opted out of
    /// train-ai, any other must not be.
    /// </summary>
    private static int MeasureLookups(LookupUniverse universe, MatchingIndex index, int seconds)
    {
        const int Queries = 1 << 20;
        var random = new Random(11);
        var urls = new CanonicalUrl[Queries];
        var registered = new bool[Queries];
        for (var i = 0; i < Queries; i++)
        {
            var (url, isRegistered) = universe.Query(random);
            urls[i] = UrlCanonicalizer.TryCanonicalize(url, out var canonical, out _) ? canonical : throw new InvalidOperationException(url);
            registered[i] = isRegistered;
        }

        var wrong = TimeLookups(index, urls, registered, seconds, inRuns: false) + TimeLookups(index, urls, registered, seconds, inRuns: true);
        GC.KeepAlive(index);
        return wrong == 0 ? 0 : 1;
    }

    /// <summary>
    /// Looks the URLs up in order for <paramref name="seconds"/>; returns the wrong answers. One by
    /// one, or as the service and the command look up a batch: in runs of 1,000, the cache lines of
    /// the lookups ahead asked for (<see cref="MatchingIndex.PrefetchAhead"/>).
    /// </summary>
    private static long TimeLookups(MatchingIndex index, CanonicalUrl[] urls, bool[] registered, int seconds, bool inRuns)
    {
        const int Run = 1_000;
        var probes = new UrlProbe[Run];
        var matches = new List<Match>();
        long done = 0, wrong = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            for (var run = 0; run < 64; run++)
            {
                var first = (int)(done % urls.Length);
                var count = Math.Min(Run, urls.Length - first);
                for (var i = 0; inRuns && i < count; i++)
                {
                    probes[i] = new UrlProbe(urls[first + i]); // hashed in the timed loop, as a lookup by URL does
                }

                for (var i = 0; i < count; i++, done++)
                {
                    Decision decision;
                    if (inRuns)
                    {
                        index.PrefetchAhead(probes.AsSpan(0, count), i);
                        decision = index.Lookup(probes[i], null, TrustLevel.Signed, matches, out _);
                    }
                    else
                    {
                        decision = index.Lookup(urls[first + i], null, TrustLevel.Signed, matches);
                    }

                    if ((decision.TrainAi == Permission.Disallow) != registered[first + i])
                    {
                        wrong++;
                    }
                }
            }
        }

        clock.Stop();
        var how = inRuns ? "in runs of 1,000, the lookups ahead prefetched" : "one by one";
        Console.WriteLine($"lookups:      {done / clock.Elapsed.TotalSeconds:N0} URLs/s on one thread, {how} ({done:N0} in {clock.Elapsed.TotalSeconds:F1} s, queries canonicalized beforehand); {wrong:N0} wrong answers");
        return wrong;
    }

    /// <summary>A part's MiB and, for a subject kind, its bytes per subject of that kind.</summary>
    private static string Share(MatchingIndex index, (string Part, long Bytes) part)
    {
        var subjects = index.SubjectsByKind.Of(part.Part);
        var perSubject = subjects > 0 ? $", {(double)part.Bytes / subjects:F1} B per {part.Part} subject" : string.Empty;
        return $"{part.Part} {part.Bytes / (1024.0 * 1024.0):F1} MiB{perSubject}";
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static MatchingIndex Build(IEnumerable<(string Kind, string Value, bool IncludeSubdomains)> subjects, long total, int subjectsPerClaim, bool incremental, bool compact)
    {
        var usage = new Usage(Preference.Unset, Preference.No, Preference.Unset, Preference.Unset, Preference.Unset).WithHierarchyApplied();
        var index = new MatchingIndex();
        if (!incremental)
        {
            index.BeginBulkLoad(); // as the server's shared index does until its build is done
        }

        var claim = 0;
        var added = 0L;
        var report = Math.Max(1, total / 10);
        var clock = Stopwatch.StartNew();
        foreach (var chunk in subjects.Chunk(subjectsPerClaim))
        {
            claim++;
            if ((added += chunk.Length) / report != (added - chunk.Length) / report)
            {
                Console.Error.WriteLine($"  {added:N0} subjects added after {clock.Elapsed.TotalSeconds:F1} s");
            }

            var id = Convert.ToHexStringLower(BitConverter.GetBytes((long)claim)).PadLeft(64, '0');
            index.Add(new IndexedClaim(id, claim, $"party{claim % 1000}", 1, usage, TrustLevel.Signed, false, Canonical(chunk)));
            while (index.PrepareMerge() is { } merge)
            {
                index.CommitMerge(merge); // as the server's writer does after each write
            }
        }

        if (compact)
        {
            Console.Error.WriteLine($"  compacting after {clock.Elapsed.TotalSeconds:F1} s");
            index.Compact(); // as the server does once its build from the store is done
        }

        Console.Error.WriteLine($"  key-table segments: {index.KeySegmentCounts()}");
        return index;
    }

    private static List<Subject> Canonical((string Kind, string Value, bool IncludeSubdomains)[] subjects) =>
        subjects.Select(s => Subject.TryCreate(s.Kind, s.Value, s.Kind == "host" ? s.IncludeSubdomains : null, out var subject, out var error)
            ? subject!
            : throw new InvalidOperationException($"{s.Value}: {error}")).ToList();

    private static long Heap()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}

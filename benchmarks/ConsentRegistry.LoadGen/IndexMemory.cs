using System.Diagnostics;
using System.Runtime.CompilerServices;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.LoadGen;

/// <summary>
/// Builds a <see cref="MatchingIndex"/> in this process from the <see cref="LookupUniverse"/>'s
/// subjects, claim by claim as the server's loader does, and reports the managed memory the index
/// holds per subject (the heap after a full collection with the index, less the heap before it)
/// and the build time, canonicalizing included, store excluded.
/// </summary>
internal static class IndexMemory
{
    public static int Run(int subjects, int subjectsPerClaim)
    {
        var universe = new LookupUniverse(subjects);
        _ = Canonical(universe.RegisteredSubjects().Where((_, i) => i % 997 == 0).ToArray()); // loads the canonicalizer's tables first
        var before = Heap();
        var clock = Stopwatch.StartNew();
        var index = Build(universe, subjectsPerClaim);
        clock.Stop();
        var held = Heap() - before;
        Console.WriteLine($"index:        {index.SubjectCount:N0} subjects in {index.ClaimCount:N0} claims, built in {clock.Elapsed.TotalSeconds:F2} s (canonicalizing included)");
        Console.WriteLine($"managed heap: {held / (1024.0 * 1024.0):F1} MiB held by the index, {(double)held / index.SubjectCount:F1} bytes per subject ({subjectsPerClaim:N0} per claim)");
        GC.KeepAlive(index);
        return 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static MatchingIndex Build(LookupUniverse universe, int subjectsPerClaim)
    {
        var usage = new Usage(Preference.Unset, Preference.No, Preference.Unset, Preference.Unset, Preference.Unset).WithHierarchyApplied();
        var index = new MatchingIndex();
        var claim = 0;
        foreach (var chunk in universe.RegisteredSubjects().Chunk(subjectsPerClaim))
        {
            claim++;
            var id = Convert.ToHexStringLower(BitConverter.GetBytes((long)claim)).PadLeft(64, '0');
            index.Add(new IndexedClaim(id, claim, $"party{claim % 1000}", 1, usage, TrustLevel.Signed, false, Canonical(chunk)));
        }

        index.Compact(); // as the server does once its build from the store is done
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

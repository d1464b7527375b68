using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.VectorIndex;

/// <summary>
/// The registry's matching index with its approximate vector index (<see cref="VectorIndexes"/>: sign codes or USearch, on
/// from the first vector; or without it, candidates 0, for exact search), fed claims of one embedding subject each as the log would: build rate,
/// resident memory per claimed vector (claim, stored vector and graph together) and the index's own
/// estimate, lookups a second through <see cref="MatchingIndex.Lookup(ref Core.Urls.CanonicalUrl?, string?, TrustLevel, List{Match}, PdqHash?, int, EmbeddingQuery?)"/>
/// on one thread and on every core, and recall against exact search at the threshold.
/// </summary>
public static class ServiceIndex
{
    private const string Model = "synthetic-v1";
    private const int Dimensions = 512;
    private const int Queries = 1000;
    private static readonly Usage No = new(Preference.No, Preference.Unset, Preference.Unset, Preference.Unset, Preference.Unset);

    public static void Run(string[] args)
    {
        int Arg(int at, int fallback) => args.Length > at ? int.Parse(args[at], CultureInfo.InvariantCulture) : fallback;
        var count = Arg(0, 100_000);
        // The search expansion, or several (a comma-separated list).
        int[] expansions = args.Length > 3 ? [.. args[3].Split(',').Select(e => int.Parse(e, CultureInfo.InvariantCulture))] : [64];
        // Candidates 0: no approximate index, every lookup an exact scan (the registry below MinVectors).
        var options = new VectorIndexOptions
        {
            // The graph from the first vector (its build rate over every vector); sign codes from the
            // service's threshold, as they take their centre from the rows there are then.
            MinVectors = Arg(4, 16) == 0 ? 0 : args.Length > 8 && args[8] == VectorIndexOptions.Hnsw ? 1 : new VectorIndexOptions().MinVectors,
            Connectivity = Arg(1, 16),
            ExpansionAdd = Arg(2, 128),
            ExpansionSearch = expansions[^1], // the one a snapshot read back is searched with
            Candidates = Math.Max(1, Arg(4, 16)),
            Dimensions = Arg(6, new VectorIndexOptions().Dimensions),
            Quantization = args.Length > 7 ? args[7] : new VectorIndexOptions().Quantization,
            Kind = args.Length > 8 ? args[8] : new VectorIndexOptions().Kind,
        };
        var threshold = args.Length > 5 ? float.Parse(args[5], CultureInfo.InvariantCulture) : 0.98f;

        var synthetic = new SyntheticVectors(seed: 1, Dimensions);
        var data = synthetic.Data(count);
        var queries = synthetic.Queries(data, Queries);
        var stored = data.Select(v => EmbeddingVector.DecodeStored(EmbeddingVector.Encode(v))).ToArray(); // float16 read back, as the index holds it
        Console.WriteLine(options.MinVectors == 0
            ? $"{count:N0} claimed vectors of {Dimensions}; exact search"
            : options.Kind == VectorIndexOptions.SignCodes ? $"{count:N0} claimed vectors of {Dimensions}; sign codes, {options.Candidates} candidates"
            : $"{count:N0} claimed vectors of {Dimensions}; connectivity {options.Connectivity}, expansion "
                + $"{options.ExpansionAdd}/{options.ExpansionSearch}, {options.Candidates} candidates, {options.Quantization}, "
                + $"{(options.Dimensions is > 0 and < Dimensions ? options.Dimensions : Dimensions)} dimensions in the index");

        var before = SyntheticVectors.ResidentBytes();
        var (managedBefore, nativeBefore) = SyntheticVectors.ManagedAndNativeBytes();
        var clock = Stopwatch.StartNew();
        IApproximateVectors? approximate = null;
        var made = VectorIndexes.Settings(options);
        var settings = made is null ? null : made with { Create = dimensions => approximate = made.Create(dimensions) };
        using var index = new MatchingIndex(settings);
        for (var i = 0; i < count; i++)
        {
            // Encoded here, not ahead, so that the resident growth is the index's alone.
            index.Add(new IndexedClaim($"{i:x64}", i + 1, $"party-{i % 1000}", 1_800_000_000, No, TrustLevel.Signed, false,
                [new Subject(SubjectKinds.Embedding, $"{Model} {EmbeddingVector.Encode(data[i])}")]));
            index.BuildVectorIndexes(); // as the shared index does after each write (here: once, at the first vector)
            if (i > 0 && i % 100_000 == 0)
            {
                Console.WriteLine($"  {i:N0} added, {i / clock.Elapsed.TotalSeconds:N0} a second");
            }
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var perVector = (SyntheticVectors.ResidentBytes() - before) / (double)count;
        var (managed, native) = SyntheticVectors.ManagedAndNativeBytes();
        Console.WriteLine($"built in {seconds:N1} s ({count / seconds:N0} claims a second); resident +{perVector:N0} bytes a claimed vector "
            + $"(claim, stored vector, index; includes memory the collector keeps committed); live managed +{(managed - managedBefore) / (double)count:N0} B "
            + $"(claims, stored vectors, sign codes), outside the managed heap +{(native - nativeBefore) / (double)count:N0} B a claim (USearch's graph, with hnsw; sign codes are managed arrays, counted above); "
            + $"the index estimates {index.EstimatedBytes / (double)count:N0} bytes a claim"
            + (approximate is null ? "" : $", of which the vector index (its own count) {approximate.Bytes / (double)count:N0}"));
        GC.KeepAlive(data); // alive through the readings above, so that its release is not counted

        var truth = new HashSet<string>[Queries];
        Parallel.For(0, Queries, q => truth[q] = Enumerable.Range(0, count)
            .Where(i => TensorPrimitives.Dot<float>(queries[q], stored[i]) >= threshold).Select(i => $"{i:x64}").ToHashSet());

        var found = new HashSet<string>[Queries];
        HashSet<string> Lookup(int q)
        {
            var matches = new List<Match>();
            index.Lookup(null, null, TrustLevel.Signed, matches, embeddings: new EmbeddingQuery(Model, [queries[q]], threshold));
            return matches.Select(m => index.Claim(m.Claim).Id).ToHashSet();
        }

        // Each expansion asked for is measured on the same built index.
        foreach (var expansion in expansions)
        {
            (approximate as UsearchVectors)?.ChangeExpansionSearch(expansion);
            for (var q = 0; q < Queries; q++)
            {
                found[q] = Lookup(q); // also warms the code and the memory it reads before the timed rounds
            }

            clock.Restart();
            for (var q = 0; q < Queries; q++)
            {
                Lookup(q);
            }

            var oneThread = Queries / clock.Elapsed.TotalSeconds;
            clock.Restart();
            const int Rounds = 3;
            Parallel.For(0, Queries * Rounds, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, q => Lookup(q % Queries));
            var allCores = Queries * Rounds / clock.Elapsed.TotalSeconds;

            var wanted = truth.Sum(t => t.Count);
            var hits = Enumerable.Range(0, Queries).Sum(q => truth[q].Count(found[q].Contains));
            var extra = Enumerable.Range(0, Queries).Sum(q => found[q].Count(id => !truth[q].Contains(id)));
            Console.WriteLine((approximate is UsearchVectors ? $"expansion {expansion}: " : "") + $"{oneThread:N0} lookups a second on one thread, {allCores:N0} on {Environment.ProcessorCount} threads; "
                + $"recall at {threshold}: {hits}/{wanted} = {(double)hits / Math.Max(1, wanted):P2}; matches below the threshold: {extra}");
        }

        if (settings is not null)
        {
            Snapshot(index, settings, queries.Select(q => new EmbeddingQuery(Model, [q], threshold)).ToArray(), found, options.Kind == VectorIndexOptions.SignCodes);
        }
    }

    /// <summary>
    /// The snapshot read as the command's <c>filter</c> and <c>scan</c> read it: with its saved sign
    /// codes (<see cref="SignCodeVectors.SavedOnly"/>), and without (every lookup an exact scan, timed
    /// on the first 50 queries); lookups a second on one thread, and answers that differ from the service's.
    /// </summary>
    private static void ForLookups(string path, EmbeddingQuery[] queries, HashSet<string>[] expected)
    {
        foreach (var (what, settings, count) in new[] { ("with its saved sign codes", SignCodeVectors.SavedOnly(candidates: 16), queries.Length), ("exactly", null, 50) })
        {
            var clock = Stopwatch.StartNew();
            using var reader = new SnapshotReader(path);
            using var index = MatchingIndex.ReadSnapshotForLookups(reader, settings);
            var readSeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            var wrong = Enumerable.Range(0, count).Count(q =>
            {
                var matches = new List<Match>();
                index.Lookup(null, null, TrustLevel.Signed, matches, embeddings: queries[q]);
                return !matches.Select(m => index.Claim(m.Claim).Id).ToHashSet().SetEquals(expected[q]);
            });
            Console.WriteLine($"read for lookups only, {what}: in {readSeconds:N1} s; {count / clock.Elapsed.TotalSeconds:N0} lookups a second on one thread "
                + $"(the first, cold); {wrong} of {count} answered otherwise than the service");
        }
    }

    /// <summary>
    /// The index written to a snapshot and read back twice: with its saved vector index (what a
    /// restart does) and without (the vector index built again from the vectors, on every core);
    /// each counts the lookups it answers otherwise than the index did (a loaded index should answer
    /// every one alike; a rebuilt graph may differ in a few, as approximate search does).
    /// </summary>
    private static void Snapshot(MatchingIndex index, ApproximateVectorSettings settings, EmbeddingQuery[] queries, HashSet<string>[] expected, bool signCodes)
    {
        var path = Path.Combine(Path.GetTempPath(), $"vector-index-{Environment.ProcessId}.snap");
        try
        {
            var clock = Stopwatch.StartNew();
            using (var writer = new SnapshotWriter(path, new SnapshotHeader(SnapshotHeader.CurrentFormat, Guid.NewGuid(), index.AppliedSeq, DateTimeOffset.UtcNow)))
            {
                index.WriteSnapshot(writer);
                writer.Finish();
            }

            Console.WriteLine($"snapshot written in {clock.Elapsed.TotalSeconds:N1} s ({new FileInfo(path).Length / (1024.0 * 1024):N0} MiB)");
            // REBUILD=0 leaves out the second reading (at a million vectors it takes minutes).
            var readings = Environment.GetEnvironmentVariable("REBUILD") == "0"
                ? new[] { ("with its saved vector index", settings) }
                : [("with its saved vector index", settings), ("building the vector index again", settings with { Open = null })];
            foreach (var (what, read) in readings)
            {
                clock.Restart();
                using var reader = new SnapshotReader(path);
                using var loaded = MatchingIndex.ReadSnapshot(reader, read);
                var readSeconds = clock.Elapsed.TotalSeconds;
                loaded.CommitVectorIndexes(loaded.PrepareVectorIndexes());
                var readySeconds = clock.Elapsed.TotalSeconds;
                var wrong = Enumerable.Range(0, queries.Length).Count(q =>
                {
                    var matches = new List<Match>();
                    loaded.Lookup(null, null, TrustLevel.Signed, matches, embeddings: queries[q]);
                    return !matches.Select(m => loaded.Claim(m.Claim).Id).ToHashSet().SetEquals(expected[q]);
                });
                Console.WriteLine($"read back {what}: ready for approximate lookups in {readySeconds:N1} s (the file read in {readSeconds:N1} s); "
                    + $"{wrong} of {queries.Length} lookups answered otherwise than before");
            }

            if (signCodes)
            {
                ForLookups(path, queries, expected);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}

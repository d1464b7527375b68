using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Cloud.Unum.USearch;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.VectorIndex;

// dotnet run -c Release --project benchmarks/ConsentRegistry.VectorIndex -- \
//     [vectors 1000000] [quantization i8] [connectivity 16] [expansion-add 128] [expansion-search 64] [threshold 0.98] [dimensions 256]
//     (the registry's UsearchVectors alone: its projection, quantisation and graph, no matching index)
// dotnet run -c Release --project benchmarks/ConsentRegistry.VectorIndex -- service \
//     [vectors 100000] [connectivity 16] [expansion-add 128] [expansion-search 64, or several: 64,128] [candidates 16] [threshold 0.98]
//     [dimensions 256] [quantization i8] [kind sign-codes|hnsw]
//     (the registry's own matching index with its vector index of that kind, the default sign codes; or exact search
//     with candidates 0: ServiceIndex.cs. Connectivity, expansions, dimensions and quantization are the graph's.)
//
// Vectors: 512 dimensions, non-negative and L2-normalised like the bundled model's GeM output
// (squared half-normal components), one in a hundred a near copy of an earlier one. Queries: near
// copies (noise 0.15) of 1,000 random vectors. Ground truth: every vector at cosine >= threshold,
// by exact search. Reported: build rate (one thread), resident memory added per vector, queries a
// second (one thread, 16 candidates each, re-checked exactly), and recall of the ground truth.
if (args.FirstOrDefault() == "service")
{
    ConsentRegistry.VectorIndex.ServiceIndex.Run(args[1..]);
    return;
}

var vectors = Arg(0, 1_000_000);
var options = new VectorIndexOptions
{
    MinVectors = 1,
    Quantization = args.Length > 1 ? args[1] : "i8",
    Connectivity = Arg(2, 16),
    ExpansionAdd = Arg(3, 128),
    ExpansionSearch = Arg(4, 64),
    Dimensions = Arg(6, new VectorIndexOptions().Dimensions),
};
var threshold = args.Length > 5 ? float.Parse(args[5], CultureInfo.InvariantCulture) : 0.98f;
const int Dimensions = 512;
const int Queries = 1000;
const int Candidates = 16;

var synthetic = new SyntheticVectors(seed: 1, Dimensions);
var data = synthetic.Data(vectors);

var queries = synthetic.Queries(data, Queries);
Console.WriteLine($"{vectors:N0} vectors of {Dimensions}; USearch {USearchCapabilities.Version()} through UsearchVectors: {options.Quantization}, "
    + $"{options.Dimensions} dimensions, connectivity {options.Connectivity}, expansion {options.ExpansionAdd}/{options.ExpansionSearch}");

GC.Collect();
var before = SyntheticVectors.ResidentBytes();
var clock = Stopwatch.StartNew();
using var index = new UsearchVectors(Dimensions, options);
for (var i = 0; i < vectors; i++)
{
    index.Add(i, data[i]);
    if (i > 0 && i % 100_000 == 0)
    {
        Console.WriteLine($"  {i:N0} added, {i / clock.Elapsed.TotalSeconds:N0} a second");
    }
}

var buildSeconds = clock.Elapsed.TotalSeconds;
GC.Collect();
var perVector = (SyntheticVectors.ResidentBytes() - before) / (double)vectors;
Console.WriteLine($"built in {buildSeconds:N1} s ({vectors / buildSeconds:N0} vectors a second, one thread); resident memory +{perVector:N0} bytes a vector; "
    + $"USearch counts {index.Bytes / (double)vectors:N0}");

var truth = new int[Queries][];
Parallel.For(0, Queries, q => truth[q] = Enumerable.Range(0, vectors).Where(i => TensorPrimitives.Dot<float>(queries[q], data[i]) >= threshold).ToArray());

int wanted = 0, found = 0;
var rows = new int[Candidates];
clock.Restart();
for (var q = 0; q < Queries; q++)
{
    var count = index.Search(queries[q], rows);
    var kept = rows[..count].Where(k => TensorPrimitives.Dot<float>(queries[q], data[k]) >= threshold).ToHashSet();
    wanted += truth[q].Length;
    found += truth[q].Count(kept.Contains);
}

Console.WriteLine($"{Queries / clock.Elapsed.TotalSeconds:N0} queries a second (one thread, {Candidates} candidates re-checked exactly); "
    + $"recall at {threshold}: {found}/{wanted} = {(double)found / Math.Max(1, wanted):P2}");

int Arg(int at, int fallback) => args.Length > at ? int.Parse(args[at], CultureInfo.InvariantCulture) : fallback;

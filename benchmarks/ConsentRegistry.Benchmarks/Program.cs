using BenchmarkDotNet.Running;
using ConsentRegistry.Benchmarks;

// dotnet run -c Release --project benchmarks/ConsentRegistry.Benchmarks -- --filter '*PdqHashing*' [--job short]
BenchmarkSwitcher.FromAssembly(typeof(PdqHashingBenchmarks).Assembly).Run(args);

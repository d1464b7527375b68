using BenchmarkDotNet.Attributes;
using ConsentRegistry.Imaging;
using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Benchmarks;

/// <summary>
/// One 1600×1004 JPEG (the conformance set's bridge photo, 361 KB) hashed on one thread from its file bytes, decoding
/// included, as POST /v1/images does it: exact (the reference's pixels) and fast (decoded at 1/4 scale).
/// Op/s is images per second on one core.
/// </summary>
[MemoryDiagnoser]
[OperationsPerSecond]
public class PdqHashingBenchmarks
{
    private byte[] _jpeg = [];
    private DecodedImage? _grid;

    [GlobalSetup]
    public void Setup()
    {
        _jpeg = PdqTestImage.Read("bridge-mods/aaa-orig.jpg");
        using var image = EncodedImage.Open(_jpeg);
        _grid = image.Decode();
    }

    [GlobalCleanup]
    public void Cleanup() => _grid?.Dispose();

    [Benchmark(Baseline = true)]
    public PdqResult Exact() => Hash(ImageHashMode.Exact);

    [Benchmark]
    public PdqResult Fast() => Hash(ImageHashMode.Fast);

    /// <summary>What the endpoint computes: the 8 dihedral hashes from one DCT.</summary>
    [Benchmark]
    public PdqDihedral ExactDihedral()
    {
        using var image = EncodedImage.Open(_jpeg);
        using var pixels = image.Decode(ImageHashMode.Exact);
        return pixels.HashDihedral();
    }

    /// <summary>Hashing alone, from the already decoded 512×512 grid: the part of the cost that is not decoding.</summary>
    [Benchmark]
    public PdqResult HashDecodedGrid() => _grid!.Hash();

    private PdqResult Hash(ImageHashMode mode)
    {
        using var image = EncodedImage.Open(_jpeg);
        using var pixels = image.Decode(mode);
        return pixels.Hash();
    }
}

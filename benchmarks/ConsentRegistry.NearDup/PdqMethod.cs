using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.NearDup;

/// <summary>PDQ as the registry matches it: a claim holds the 8 dihedral hashes of the original.</summary>
public sealed class PdqMethod(IReadOnlyList<double> radii) : IMatchMethod
{
    public string Name => "pdq";

    public IReadOnlyList<double> Thresholds => radii;

    public object? Claim(string path) => ImageFiles.TryHashDihedral(path);

    public object? Probe(string path) => ImageFiles.TryHashDihedral(path)?.Original;

    public double Score(object claim, object probe) => SetBuilder.MinDistance((PdqDihedral)claim, (PdqHash)probe);
}

using System.Collections.Concurrent;
using System.Globalization;
using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.NearDup;

/// <summary>
/// PDQ as the registry matches it: a claim holds the 8 dihedral hashes of the original. Writes every pair within
/// <see cref="PairRadius"/> to <c>pairs-pdq.tsv</c> (probe, claim, distance), for rules that look at the pair
/// PDQ matched (<c>analysis/gated.py --veto</c>).
/// </summary>
public sealed class PdqMethod(IReadOnlyList<double> radii) : IMatchMethod
{
    public const int PairRadius = 48;

    private readonly ConcurrentBag<string> _pairs = [];

    private sealed record Claimed(string Path, PdqDihedral Hashes);

    private sealed record Probed(string Path, PdqHash Hash);

    public string Name => "pdq";

    public IReadOnlyList<double> Thresholds => radii;

    public object? Claim(string path) => ImageFiles.TryHashDihedral(path) is { } hashes ? new Claimed(path, hashes) : null;

    public object? Probe(string path) => ImageFiles.TryHashDihedral(path) is { } hashes ? new Probed(path, hashes.Original) : null;

    public double Score(object claim, object probe)
    {
        var (c, p) = ((Claimed)claim, (Probed)probe);
        var distance = SetBuilder.MinDistance(c.Hashes, p.Hash);
        if (distance <= PairRadius)
        {
            _pairs.Add(string.Join('\t', p.Path, c.Path, distance.ToString(CultureInfo.InvariantCulture)));
        }

        return distance;
    }

    public void SavePairs(string folder, string suffix = "")
    {
        var path = System.IO.Path.Combine(folder, $"pairs-pdq{suffix}.tsv");
        File.WriteAllLines(path, _pairs.Order(StringComparer.Ordinal).Prepend("probe\tclaim\tdistance"));
        Console.WriteLine($"pairs: {path} ({_pairs.Count})");
    }
}

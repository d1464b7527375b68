using System.Collections.Concurrent;
using System.Globalization;
using ConsentRegistry.Imaging.LocalFeatures;

namespace ConsentRegistry.NearDup;

/// <summary>
/// The registry's own aligned verification (<see cref="AlignedVerifier"/>, managed code: oriented FAST corners,
/// rotated BRIEF, a RANSAC similarity fit, then the overlay compared by PDQ and correlation), on pictures decoded
/// by the registry's decoder as the worker decodes them. Scores 0 for a pair its rule calls a copy, 256 otherwise,
/// and writes every pair with at least <see cref="AlignedVerifier.MinInliers"/> inliers to
/// <c>pairs-verified.tsv</c> in the columns of <c>pairs-aligned.tsv</c> (no cell scores), for
/// <c>analysis/aligned.py --pairs verified</c>. With <paramref name="reversed"/>, each pair is compared the other way
/// round (the probe laid under, with its mirror image, the original over it), as the worker compares half of its
/// checks (it lays the claim whose id sorts later under); scores go to <c>scores-verified-reversed.json</c>.
/// </summary>
public sealed class VerifiedMethod(bool reversed = false) : IMatchMethod
{
    private readonly ConcurrentBag<string> _pairs = [];

    private sealed record Claimed(string Path, AlignedClaim Claim);

    private sealed record Probed(string Path, AlignedImage Image, AlignedClaim? AsClaim);

    public string Name => reversed ? "verified-reversed" : "verified";

    public IReadOnlyList<double> Thresholds => [0];

    public object? Claim(string path) => ImageFiles.TryDecode(path, d => new Claimed(path, AlignedVerifier.PrepareClaim(d)));

    public object? Probe(string path) => ImageFiles.TryDecode(path, d =>
    {
        if (!reversed)
        {
            return new Probed(path, AlignedVerifier.Prepare(d), null);
        }

        var both = AlignedVerifier.PrepareClaim(d);
        return new Probed(path, both.Plain, both);
    });

    public double Score(object claim, object probe)
    {
        var (c, p) = ((Claimed)claim, (Probed)probe);
        var (under, over) = reversed ? (p.AsClaim!, c.Claim.Plain) : (c.Claim, p.Image);
        var plain = AlignedVerifier.Compare(under.Plain, over, mirrored: false);
        var mirrored = AlignedVerifier.Compare(under.Mirrored, over, mirrored: true);
        foreach (var found in new[] { plain, mirrored })
        {
            if (found is not null)
            {
                _pairs.Add(string.Join('\t', p.Path, c.Path, found.Mirrored ? "1" : "0", found.Inliers.ToString(CultureInfo.InvariantCulture),
                    found.Overlap.ToString("0.000", CultureInfo.InvariantCulture), found.Distance.ToString(CultureInfo.InvariantCulture),
                    found.Correlation.ToString("0.0000", CultureInfo.InvariantCulture), "0", "-1", "0"));
            }
        }

        return AlignedVerifier.IsCopy(plain) || AlignedVerifier.IsCopy(mirrored) ? 0 : 256;
    }

    public void SavePairs(string folder, string suffix = "")
    {
        var path = System.IO.Path.Combine(folder, $"pairs-{Name}{suffix}.tsv");
        File.WriteAllLines(path, _pairs.Order(StringComparer.Ordinal)
            .Prepend("probe\tclaim\tmirrored\tinliers\toverlap\tpdq\tcorrelation\tcells\tcell_median\tcells_agreeing"));
        Console.WriteLine($"pairs: {path} ({_pairs.Count})");
    }
}

namespace ConsentRegistry.NearDup;

/// <summary>
/// A way to decide whether a probe image copies a claimed original. PDQ scores by Hamming distance
/// (lower is closer); a later embedding method can score by 1 − cosine similarity over vectors.
/// </summary>
public interface IMatchMethod
{
    string Name { get; }

    /// <summary>The thresholds to sweep: a probe matches when its score is at most the threshold.</summary>
    IReadOnlyList<double> Thresholds { get; }

    /// <summary>Prepares an original as a claim (e.g. its 8 dihedral hashes); null when it cannot be read.</summary>
    object? Claim(string path);

    /// <summary>Prepares a probe image; null when it cannot be read.</summary>
    object? Probe(string path);

    /// <summary>Distance of a probe to a claim: lower is closer.</summary>
    double Score(object claim, object probe);
}

namespace ConsentRegistry.Core.Pdq;

/// <summary>
/// The PDQ hashes of the 8 dihedral variants of one image (computed from one DCT) and the image's quality.
/// </summary>
public sealed class PdqDihedral
{
    /// <summary>Number of variants.</summary>
    public const int Count = 8;

    private readonly PdqHash[] _hashes;

    internal PdqDihedral(PdqHash[] hashes, int quality)
    {
        _hashes = hashes;
        Quality = quality;
    }

    /// <summary>Quality of the image (0 to 100), the same for every variant.</summary>
    public int Quality { get; }

    /// <summary>The 8 hashes in the reference's order (see <see cref="PdqDihedralTransform"/>).</summary>
    public ReadOnlySpan<PdqHash> Hashes => _hashes;

    /// <summary>The hash of one variant.</summary>
    public PdqHash this[PdqDihedralTransform transform] =>
        (uint)transform < Count
            ? _hashes[(int)transform]
            : throw new ArgumentOutOfRangeException(nameof(transform), transform, "Not a dihedral transform.");

    /// <summary>The image as it is.</summary>
    public PdqHash Original => _hashes[0];

    /// <summary>Rotated 90°.</summary>
    public PdqHash Rotate90 => _hashes[1];

    /// <summary>Rotated 180°.</summary>
    public PdqHash Rotate180 => _hashes[2];

    /// <summary>Rotated 270°.</summary>
    public PdqHash Rotate270 => _hashes[3];

    /// <summary>Mirrored along the x axis.</summary>
    public PdqHash FlipX => _hashes[4];

    /// <summary>Mirrored along the y axis.</summary>
    public PdqHash FlipY => _hashes[5];

    /// <summary>Transposed (flip+1).</summary>
    public PdqHash FlipPlus1 => _hashes[6];

    /// <summary>Anti-transposed (flip-1).</summary>
    public PdqHash FlipMinus1 => _hashes[7];
}

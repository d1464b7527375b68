namespace ConsentRegistry.Core.Pdq;

/// <summary>The 8 dihedral variants of an image, in the order of Meta's reference.</summary>
public enum PdqDihedralTransform
{
    /// <summary>The image as it is.</summary>
    Original = 0,

    /// <summary>Rotated 90°.</summary>
    Rotate90 = 1,

    /// <summary>Rotated 180°.</summary>
    Rotate180 = 2,

    /// <summary>Rotated 270°.</summary>
    Rotate270 = 3,

    /// <summary>Mirrored along the x axis.</summary>
    FlipX = 4,

    /// <summary>Mirrored along the y axis.</summary>
    FlipY = 5,

    /// <summary>Mirrored along the main diagonal (transposed), the reference's flip+1.</summary>
    FlipPlus1 = 6,

    /// <summary>Mirrored along the anti-diagonal, the reference's flip-1.</summary>
    FlipMinus1 = 7,
}

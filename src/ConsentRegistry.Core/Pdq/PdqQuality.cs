namespace ConsentRegistry.Core.Pdq;

/// <summary>What a PDQ hash's quality (0 to 100) says about matching it.</summary>
public static class PdqQuality
{
    /// <summary>Below this quality a hash comes from an image too flat or small to match reliably (Meta's threshold).</summary>
    public const int Reliable = 50;
}

using System.Security.Cryptography;

namespace ConsentRegistry.Browser.Tests.Infrastructure;

/// <summary>Artists' pictures: Meta's PDQ test images and generated ones (tests/testdata/pdq).</summary>
public static class Pictures
{
    /// <summary>A 256×256 JPEG of a bridge.</summary>
    public static string Bridge => RepositoryPaths.TestDataFile("pdq", "bridge-mods", "square-256x256.jpg");

    /// <summary>A flat 4×4 PNG: PDQ quality 0 (expected.csv), too little detail for a perceptual hash.</summary>
    public static string Tiny => RepositoryPaths.TestDataFile("pdq", "generated", "tiny-4x4.png");

    /// <summary>Another picture altogether.</summary>
    public static string Shapes => RepositoryPaths.TestDataFile("pdq", "generated", "shapes-a.png");

    /// <summary>
    /// The PDQ hash Meta's reference hasher gives a heavily blurred copy of the bridge
    /// (bridge-mods/blur-a-lot.jpg in expected.csv): what a crawler holding that copy would look up.
    /// </summary>
    public const string BlurredBridgePdq = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";

    public static string Sha256Of(string file) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));
}

using System.Globalization;
using ConsentRegistry.Core.Pdq;
using Xunit.Abstractions;

namespace ConsentRegistry.Core.Tests.Pdq;

/// <summary>Hashes of the images in tests/testdata/pdq against those of Meta's C++ reference.</summary>
public sealed class PdqConformanceTests(ITestOutputHelper output)
{
    private const string Expected = "expected.csv";
    private const string ExpectedDihedral = "expected-dihedral.csv";

    private static readonly string[] DihedralColumns =
        ["original", "rot90", "rot180", "rot270", "flipx", "flipy", "flip_plus1", "flip_minus1"];

    public static TheoryData<string> LosslessImages =>
        PdqTestData.PathsOf(Expected, row => row[3] == "0");

    public static TheoryData<string> LossyOrConvertedImages =>
        PdqTestData.PathsOf(Expected, row => row[3] != "0");

    public static TheoryData<string> DihedralImages => PdqTestData.PathsOf(ExpectedDihedral);

    [Theory]
    [MemberData(nameof(LosslessImages))]
    public void A_lossless_image_hashes_to_exactly_the_reference_hash_and_quality(string path)
    {
        var (expected, expectedQuality, _) = ExpectedFor(path);

        var actual = PdqTestData.Hash(path);

        int distance = actual.Hash.HammingDistance(expected);
        output.WriteLine($"{path}: distance {distance}, quality {actual.Quality} (reference {expectedQuality})");
        Assert.Equal(expected.ToHex(), actual.Hash.ToHex());
        Assert.Equal(expectedQuality, actual.Quality);
    }

    [Theory]
    [MemberData(nameof(LossyOrConvertedImages))]
    public void A_jpeg_or_converted_image_hashes_within_the_allowed_distance_of_the_reference(string path)
    {
        var (expected, expectedQuality, maxBits) = ExpectedFor(path);

        var actual = PdqTestData.Hash(path);

        int distance = actual.Hash.HammingDistance(expected);
        output.WriteLine(
            $"{path}: distance {distance} (allowed {maxBits}), quality {actual.Quality} (reference {expectedQuality}), " +
            $"hash {actual.Hash}");
        Assert.True(
            distance <= maxBits,
            $"{path}: {actual.Hash} is {distance} bits from the reference's {expected}, over the {maxBits} allowed.");
        Assert.InRange(actual.Quality, expectedQuality - 5, expectedQuality + 5);
    }

    [Theory]
    [MemberData(nameof(DihedralImages))]
    public void The_eight_dihedral_hashes_match_the_reference(string path)
    {
        string[] row = PdqTestData.Row(ExpectedDihedral, path);
        int maxBits = int.Parse(row[9], CultureInfo.InvariantCulture);

        var actual = PdqTestData.HashDihedral(path);

        var failures = new List<string>();
        for (int t = 0; t < PdqDihedral.Count; t++)
        {
            var expected = PdqHash.ParseHex(row[1 + t]);
            var hash = actual[(PdqDihedralTransform)t];
            int distance = hash.HammingDistance(expected);
            output.WriteLine($"{path} {DihedralColumns[t]}: distance {distance} (allowed {maxBits})");
            if (distance > maxBits)
            {
                failures.Add($"{DihedralColumns[t]}: {hash} is {distance} bits from {expected}");
            }
        }

        Assert.True(failures.Count == 0, $"{path} (allowed {maxBits} bits):\n" + string.Join("\n", failures));
    }

    [Theory]
    [InlineData("reg-test-input/dih/bridge-2-rotate-90.jpg", PdqDihedralTransform.Rotate90)]
    [InlineData("reg-test-input/dih/bridge-3-rotate-180.jpg", PdqDihedralTransform.Rotate180)]
    [InlineData("reg-test-input/dih/bridge-4-rotate-270.jpg", PdqDihedralTransform.Rotate270)]
    [InlineData("reg-test-input/dih/bridge-5-flipx.jpg", PdqDihedralTransform.FlipX)]
    [InlineData("reg-test-input/dih/bridge-6-flipy.jpg", PdqDihedralTransform.FlipY)]
    [InlineData("reg-test-input/dih/bridge-7-flip-plus-1.jpg", PdqDihedralTransform.FlipPlus1)]
    [InlineData("reg-test-input/dih/bridge-8-flip-minus-1.jpg", PdqDihedralTransform.FlipMinus1)]
    public void A_rotated_or_flipped_copy_matches_the_corresponding_dihedral_variant_of_the_original(
        string path, PdqDihedralTransform transform)
    {
        var original = PdqTestData.HashDihedral("reg-test-input/dih/bridge-1-original.jpg");

        var copy = PdqTestData.Hash(path);

        int distance = copy.Hash.HammingDistance(original[transform]);
        int toOriginal = copy.Hash.HammingDistance(original.Original);
        output.WriteLine($"{path}: {distance} bits from the {transform} variant, {toOriginal} from the original");
        Assert.InRange(distance, 0, 31);
    }

    [Fact]
    public void An_image_under_five_pixels_hashes_to_zero_with_quality_zero()
    {
        var actual = PdqTestData.Hash("generated/tiny-4x4.png");

        Assert.True(actual.Hash.IsZero);
        Assert.Equal(0, actual.Quality);
        Assert.Equal(new string('0', 64), actual.Hash.ToHex());
    }

    [Fact]
    public void The_dihedral_original_of_a_real_photo_equals_its_plain_hash()
    {
        using var image = PdqTestData.Decode("bridge-mods/aaa-orig.jpg");

        var plain = image.Hash();
        var dihedral = image.HashDihedral();

        Assert.Equal(plain.Hash, dihedral.Original);
        Assert.Equal(plain.Quality, dihedral.Quality);
    }

    private static (PdqHash Hash, int Quality, int MaxBits) ExpectedFor(string path)
    {
        string[] row = PdqTestData.Row(Expected, path);
        return (
            PdqHash.ParseHex(row[1]),
            int.Parse(row[2], CultureInfo.InvariantCulture),
            int.Parse(row[3], CultureInfo.InvariantCulture));
    }
}

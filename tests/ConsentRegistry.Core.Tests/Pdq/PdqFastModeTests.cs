using System.Globalization;
using ConsentRegistry.Imaging;
using Xunit.Abstractions;

namespace ConsentRegistry.Core.Tests.Pdq;

/// <summary>
/// Fast mode (large images decoded at a reduced scale) against the exact hash, on every conformance image: the
/// figures docs/pdq.md quotes, and the bound it promises for images of quality 80 or more.
/// </summary>
public sealed class PdqFastModeTests(ITestOutputHelper output)
{
    private const int HighQuality = 80;
    private const int MaxBitsAtHighQuality = 10;

    [Fact]
    public void Fast_mode_is_within_10_bits_of_the_exact_hash_on_every_conformance_image_of_quality_80_or_more()
    {
        var distances = new List<(string Path, int Quality, int Distance, bool Reduced)>();
        foreach (var row in PdqTestData.ReadCsv("expected.csv"))
        {
            string path = row[0];
            int quality = int.Parse(row[2], CultureInfo.InvariantCulture);
            using var image = EncodedImage.Open(PdqTestData.Read(path));
            using var exactPixels = image.Decode(ImageHashMode.Exact);
            using var fastPixels = image.Decode(ImageHashMode.Fast);

            int distance = fastPixels.Hash().Hash.HammingDistance(exactPixels.Hash().Hash);

            var (width, height) = image.DecodedSize(ImageHashMode.Fast);
            output.WriteLine($"{path}: {image.Width}×{image.Height} decoded at {width}×{height}, quality {quality}, {distance} bits");
            distances.Add((path, quality, distance, (width, height) != (image.Width, image.Height)));
        }

        var high = distances.Where(d => d.Quality >= HighQuality).ToList();
        var reduced = distances.Where(d => d.Reduced).ToList();
        output.WriteLine(
            $"all {distances.Count} images: max {distances.Max(d => d.Distance)}, mean {distances.Average(d => d.Distance):F2} bits; " +
            $"quality >= {HighQuality} ({high.Count}): max {high.Max(d => d.Distance)}, mean {high.Average(d => d.Distance):F2} bits; " +
            $"decoded reduced ({reduced.Count}): max {reduced.Max(d => d.Distance)}, mean {reduced.Average(d => d.Distance):F2} bits");
        var over = high.Where(d => d.Distance > MaxBitsAtHighQuality).Select(d => $"{d.Path}: {d.Distance} bits").ToList();
        Assert.True(over.Count == 0, $"Over {MaxBitsAtHighQuality} bits from the exact hash:\n" + string.Join("\n", over));
    }

    [Theory]
    [InlineData("bridge-mods/aaa-orig.jpg", 400, 251)]
    [InlineData("bridge-mods/shrink-a-little.jpg", 576, 362)]
    [InlineData("reg-test-input/dih/bridge-2-rotate-90.jpg", 251, 400)]
    [InlineData("bridge-mods/square-512x512.jpg", 512, 512)]
    [InlineData("generated/plasma-large.png", 2400, 1600)]
    public void Fast_mode_reduces_large_jpegs_only_while_the_shorter_side_keeps_200_pixels(string path, int width, int height)
    {
        using var image = EncodedImage.Open(PdqTestData.Read(path));

        Assert.Equal((width, height), image.DecodedSize(ImageHashMode.Fast));
        Assert.Equal((image.Width, image.Height), image.DecodedSize(ImageHashMode.Exact));
    }
}

using ConsentRegistry.Core.Tests.Pdq;
using ConsentRegistry.Imaging;
using ConsentRegistry.Imaging.LocalFeatures;
using SkiaSharp;

namespace ConsentRegistry.Core.Tests.Imaging;

/// <summary>
/// Aligned verification on real photographs (Meta's PDQ test images): the edits PDQ cannot see through (a crop,
/// a frame with a caption, a screenshot, a small rotation, a mirrored crop) are found to be copies; other
/// photographs are not.
/// </summary>
public sealed class AlignedVerifierTests
{
    private const string Bridge = "bridge-mods/aaa-orig.jpg";

    private static readonly Lazy<AlignedClaim> BridgeClaim = new(() => Claim(PdqTestData.Read(Bridge)));

    public static TheoryData<string> Edits => ["crop", "caption-border", "screenshot", "rotate", "mirror-crop", "small-jpeg"];

    [Theory]
    [MemberData(nameof(Edits))]
    public void An_edited_copy_is_a_copy(string edit)
    {
        var comparison = AlignedVerifier.Compare(BridgeClaim.Value, Probe(Edit(PdqTestData.Read(Bridge), edit)));

        Assert.NotNull(comparison);
        Assert.True(AlignedVerifier.IsCopy(comparison),
            $"{edit}: {comparison.Inliers} inliers, overlap {comparison.Overlap:0.00}, aligned PDQ {comparison.Distance}, correlation {comparison.Correlation:0.000}");
        Assert.Equal(edit == "mirror-crop", comparison.Mirrored);
    }

    [Theory]
    [InlineData("reg-test-input/labelme-subset/q0003.jpg")]
    [InlineData("reg-test-input/labelme-subset/q0122.jpg")]
    [InlineData("reg-test-input/labelme-subset/q1050.jpg")]
    [InlineData("misc-images/small.jpg")]
    public void Another_photograph_is_not(string other)
    {
        var comparison = AlignedVerifier.Compare(BridgeClaim.Value, Probe(PdqTestData.Read(other)));

        Assert.False(AlignedVerifier.IsCopy(comparison), comparison is null ? "no fit" :
            $"{comparison.Inliers} inliers, aligned PDQ {comparison.Distance}, correlation {comparison.Correlation:0.000}");
    }

    [Fact]
    public void A_fit_recovers_the_rotation_and_scale_of_a_copy()
    {
        var original = AlignedVerifier.Prepare(Decode(PdqTestData.Read(Bridge)));
        var turned = AlignedVerifier.Prepare(Decode(Edit(PdqTestData.Read(Bridge), "rotate")));

        var fit = SimilarityFit.Find(original.Features, turned.Features);

        Assert.NotNull(fit);
        Assert.InRange(fit.Value.Inliers, 30, int.MaxValue);
        // The probe was turned 8° counter-clockwise and shown at the same width: the fit turns it back.
        Assert.InRange(Math.Atan2(fit.Value.B, fit.Value.A) * 180 / Math.PI, 6.5, 9.5);
    }

    [Fact]
    public void The_same_image_gives_the_same_features_every_time()
    {
        var first = AlignedVerifier.Prepare(Decode(PdqTestData.Read(Bridge))).Features;
        var second = AlignedVerifier.Prepare(Decode(PdqTestData.Read(Bridge))).Features;

        Assert.InRange(first.Count, 500, AlignedVerifier.MaxFeatures);
        Assert.Equal(first.Points, second.Points);
        Assert.Equal(first.Descriptors, second.Descriptors);
    }

    [Fact]
    public void A_flat_image_has_no_features_and_fits_nothing()
    {
        var flat = AlignedVerifier.Prepare(Decode(Encode(200, 150, c => c.Clear(SKColors.White), SKEncodedImageFormat.Png)));

        Assert.Equal(0, flat.Features.Count);
        Assert.Null(AlignedVerifier.Compare(BridgeClaim.Value, flat));
    }

    private static AlignedClaim Claim(byte[] bytes)
    {
        using var decoded = Decode(bytes);
        return AlignedVerifier.PrepareClaim(decoded);
    }

    private static AlignedImage Probe(byte[] bytes)
    {
        using var decoded = Decode(bytes);
        return AlignedVerifier.Prepare(decoded);
    }

    private static DecodedImage Decode(byte[] bytes)
    {
        using var encoded = EncodedImage.Open(bytes);
        return encoded.Decode(ImageHashMode.Exact);
    }

    /// <summary>The edits of the near-duplicate benchmark, made here with SkiaSharp.</summary>
    private static byte[] Edit(byte[] original, string edit)
    {
        using var source = SKBitmap.Decode(original);
        using var image = SKImage.FromBitmap(source);
        int w = source.Width, h = source.Height;
        var sampling = new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear);
        using var text = new SKFont(SKTypeface.Default, 28);
        using var ink = new SKPaint { Color = SKColors.Black };
        return edit switch
        {
            // 19 % of the area removed: a tenth of the width from the left and a tenth of the height from the top.
            "crop" => Encode((int)(w * 0.9), (int)(h * 0.9), c => c.DrawImage(image, new SKRect(-w * 0.1f, -h * 0.1f, w * 0.9f, h * 0.9f), sampling)),
            "caption-border" => Encode(w + 80, h + 120, c =>
            {
                c.Clear(SKColors.White);
                c.DrawImage(image, new SKRect(40, 40, 40 + w, 40 + h), sampling);
                c.DrawText("Found on the internet, artist unknown", 40, h + 90, text, ink);
            }),
            "screenshot" => Encode(w * 2, h * 2, c =>
            {
                c.Clear(new SKColor(240, 240, 240));
                using var bar = new SKPaint { Color = new SKColor(40, 44, 52) };
                c.DrawRect(0, 0, w * 2, 60, bar);
                c.DrawRect(0, 60, 220, h * 2, bar);
                c.DrawText("My feed - 12 new posts", 260, 120, text, ink);
                c.DrawImage(image, new SKRect(300, 180, 300 + w * 1.2f, 180 + h * 1.2f), sampling);
            }),
            "rotate" => Encode(w, h, c =>
            {
                c.Clear(SKColors.White);
                c.RotateDegrees(-8, w / 2f, h / 2f);
                c.DrawImage(image, new SKRect(0, 0, w, h), sampling);
            }),
            "mirror-crop" => Encode((int)(w * 0.85), (int)(h * 0.85), c =>
            {
                c.Scale(-1, 1, w * 0.425f, 0);
                c.DrawImage(image, new SKRect(0, -h * 0.15f, w, h * 0.85f), sampling);
            }),
            "small-jpeg" => Encode(256, (int)Math.Round(256.0 * h / w), c => c.DrawImage(image, new SKRect(0, 0, 256, 256f * h / w), sampling),
                SKEncodedImageFormat.Jpeg, quality: 20),
            _ => throw new ArgumentOutOfRangeException(nameof(edit), edit, null),
        };
    }

    private static byte[] Encode(int width, int height, Action<SKCanvas> draw, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int quality = 100)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.White);
            draw(canvas);
        }

        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }
}

/// <summary>The corner test against plain reference implementations of FAST-9.</summary>
public sealed class FastCornerTests
{
    // The Bresenham circle of radius 3, clockwise from the top: written out here, not taken from the code under test.
    private static readonly (int X, int Y)[] Circle =
    [
        (0, -3), (1, -3), (2, -2), (3, -1), (3, 0), (3, 1), (2, 2), (1, 3),
        (0, 3), (-1, 3), (-2, 2), (-3, 1), (-3, 0), (-3, -1), (-2, -2), (-1, -3),
    ];

    [Fact]
    public void An_arc_of_nine_is_found_in_every_one_of_the_65536_circles_that_hold_one_and_no_other()
    {
        for (uint bits = 0; bits < 1 << 16; bits++)
        {
            var expected = Enumerable.Range(0, 16).Any(start => Enumerable.Range(0, 9).All(k => (bits >> ((start + k) % 16) & 1) == 1));
            Assert.True(expected == OrientedFeatures.HasArcOfNine(bits), $"bits {bits:x4}: expected {expected}");
        }
    }

    [Fact]
    public void The_corner_score_agrees_with_a_plain_segment_test_on_random_patches()
    {
        var random = new Random(20261207);
        var corners = 0;
        for (var trial = 0; trial < 20_000; trial++)
        {
            // Mostly two levels around the centre, so that arcs of every length occur, not only noise.
            var pixels = new byte[7 * 7];
            int low = random.Next(0, 200), high = low + random.Next(0, 56);
            for (var i = 0; i < pixels.Length; i++)
            {
                pixels[i] = (byte)(random.Next(4) == 0 ? random.Next(256) : random.Next(2) == 0 ? low : high);
            }

            var threshold = random.Next(1, 30);
            var image = new GrayImage(7, 7, pixels);
            var expected = Reference(image, threshold);
            Assert.Equal(expected, OrientedFeatures.FastScore(image, 3, 3, threshold));
            corners += expected > 0 ? 1 : 0;
        }

        Assert.InRange(corners, 2_000, 18_000); // both outcomes well represented
    }

    /// <summary>0 unless 9 contiguous circle pixels are all brighter than centre + t, or all darker than centre − t; else 1 + the sum of how far past the threshold that side's pixels are.</summary>
    private static int Reference(GrayImage image, int threshold)
    {
        int centre = image[3, 3];
        var values = Circle.Select(c => (int)image[3 + c.X, 3 + c.Y]).ToArray();
        bool Arc(Func<int, bool> side) => Enumerable.Range(0, 16).Any(start => Enumerable.Range(0, 9).All(k => side(values[(start + k) % 16])));
        if (Arc(v => v > centre + threshold))
        {
            return 1 + values.Sum(v => Math.Max(0, v - centre - threshold));
        }

        return Arc(v => v < centre - threshold) ? 1 + values.Sum(v => Math.Max(0, centre - threshold - v)) : 0;
    }
}

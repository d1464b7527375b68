using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Imaging.LocalFeatures;

/// <summary>A picture ready to be compared: its grey pixels at the verifier's size and their local features.</summary>
public sealed record AlignedImage(GrayImage Gray, FeatureSet Features);

/// <summary>A claimed picture ready to be compared, as it is and mirrored left to right.</summary>
public sealed record AlignedClaim(AlignedImage Plain, AlignedImage Mirrored);

/// <summary>
/// What laying a probe over a claimed picture found: the keypoint matches the transform carries onto their
/// partners, the share of the claimed picture the probe covers, the PDQ distance and the correlation of the two
/// where they overlap, and whether the probe lined up with the claim's mirror image.
/// </summary>
public sealed record AlignedComparison(int Inliers, double Overlap, int Distance, double Correlation, bool Mirrored);

/// <summary>
/// Aligned verification: decides whether a probe picture is a copy of a claimed one when their fingerprints
/// alone cannot tell (a crop, a border with a caption, a screenshot, a small rotation). Local features propose
/// a similarity transform between the two; the probe is laid over the claimed picture by it, and the two are
/// compared where they overlap, by the PDQ distance of the two overlapping parts and the correlation of the
/// parts scaled to 32×32. A copy lines up with its original again; another drawing that shares some outlines
/// (a jigsaw piece of the same set, a card of another value) lines up in part and differs in the rest.
/// The rule and its figures: docs/benchmarks.md, "Near-duplicates".
/// </summary>
public static class AlignedVerifier
{
    /// <summary>The longer side, in pixels, both pictures are scaled to before they are compared.</summary>
    public const int Side = 512;

    public const int MaxFeatures = 1000;
    public const int FastThreshold = 7;

    /// <summary>Inliers a fit needs before the overlay is compared at all.</summary>
    public const int MinInliers = 6;

    /// <summary>The overlapping parts' PDQ distance at or under which the probe is a copy.</summary>
    public const int MaxAlignedDistance = 12;

    /// <summary>The overlapping parts' correlation at or over which the probe is a copy.</summary>
    public const double MinCorrelation = 0.98;

    private const int MinOverlapSide = 32;
    private const int CorrelationSide = 32;

    /// <summary>Cells of the 32×32 grid the probe must cover whole for the correlation to count (a quarter of them).</summary>
    private const int MinCorrelationCells = CorrelationSide * CorrelationSide / 4;

    public static AlignedImage Prepare(DecodedImage image) => Prepare(GrayImage.From(image, Side));

    public static AlignedImage Prepare(GrayImage gray) => new(gray, OrientedFeatures.Detect(gray, MaxFeatures, FastThreshold));

    public static AlignedClaim PrepareClaim(DecodedImage image)
    {
        var plain = Prepare(image);
        return new AlignedClaim(plain, Prepare(plain.Gray.Mirrored()));
    }

    /// <summary>Whether the comparison says the probe is a copy of the claimed picture.</summary>
    public static bool IsCopy(AlignedComparison? comparison) =>
        comparison is { Inliers: >= MinInliers } c && (c.Distance <= MaxAlignedDistance || c.Correlation >= MinCorrelation);

    /// <summary>The better of the probe laid over the claimed picture and over its mirror image; null when neither fits.</summary>
    public static AlignedComparison? Compare(AlignedClaim claim, AlignedImage probe)
    {
        var plain = Compare(claim.Plain, probe, mirrored: false);
        var mirrored = Compare(claim.Mirrored, probe, mirrored: true);
        return (plain, mirrored) switch
        {
            (null, var m) => m,
            (var p, null) => p,
            var (p, m) => IsCopy(m) && !IsCopy(p) || (IsCopy(m) == IsCopy(p) && m.Inliers > p.Inliers) ? m : p,
        };
    }

    /// <summary>The probe laid over one side of a claim; null when no transform fits with <see cref="MinInliers"/> inliers.</summary>
    public static AlignedComparison? Compare(AlignedImage claim, AlignedImage probe, bool mirrored)
    {
        if (SimilarityFit.Find(claim.Features, probe.Features) is not { Inliers: >= MinInliers } fit)
        {
            return null;
        }

        var (overlap, distance, correlation) = Overlay(claim.Gray, probe.Gray, fit);
        return new AlignedComparison(fit.Inliers, overlap, distance, correlation, mirrored);
    }

    /// <summary>
    /// Lays the probe over the claim by the fit and compares the two where the probe covers the claim: the share of
    /// the claim covered, the PDQ distance of the two overlapping parts (the rest of their bounding box white in
    /// both), and the correlation of the parts scaled to 32×32.
    /// </summary>
    private static (double Overlap, int Distance, double Correlation) Overlay(GrayImage claim, GrayImage probe, SimilarityFit fit)
    {
        int width = claim.Width, height = claim.Height;
        var warped = new byte[width * height];
        var covered = new bool[width * height];
        int left = width, top = height, right = -1, bottom = -1, count = 0;
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var (px, py) = fit.Invert(x, y);
                var inside = px >= -0.5 && py >= -0.5 && px <= probe.Width - 0.5 && py <= probe.Height - 0.5;
                warped[y * width + x] = inside ? probe.Bilinear(px, py, 255) : (byte)255;
                if (inside)
                {
                    covered[y * width + x] = true;
                    count++;
                    (left, right, top, bottom) = (Math.Min(left, x), Math.Max(right, x), Math.Min(top, y), Math.Max(bottom, y));
                }
            }
        }

        var overlap = count / (double)(width * height);
        var (boxWidth, boxHeight) = (right - left + 1, bottom - top + 1);
        if (count == 0 || boxWidth < MinOverlapSide || boxHeight < MinOverlapSide)
        {
            return (overlap, 256, -1);
        }

        var claimPart = new byte[boxWidth * boxHeight];
        var probePart = new byte[boxWidth * boxHeight];
        var coverPart = new byte[boxWidth * boxHeight];
        for (var y = 0; y < boxHeight; y++)
        {
            for (var x = 0; x < boxWidth; x++)
            {
                var at = (top + y) * width + left + x;
                claimPart[y * boxWidth + x] = covered[at] ? claim.Pixels[at] : (byte)255;
                probePart[y * boxWidth + x] = warped[at];
                coverPart[y * boxWidth + x] = covered[at] ? (byte)255 : (byte)0;
            }
        }

        var a = new GrayImage(boxWidth, boxHeight, claimPart);
        var b = new GrayImage(boxWidth, boxHeight, probePart);
        return (overlap, Hash(a).HammingDistance(Hash(b)), Correlation(a, b, new GrayImage(boxWidth, boxHeight, coverPart)));
    }

    private static PdqHash Hash(GrayImage gray)
    {
        var luma = new float[gray.Pixels.Length];
        for (var i = 0; i < luma.Length; i++)
        {
            luma[i] = gray.Pixels[i];
        }

        return PdqHasher.HashLuma(luma, gray.Width, gray.Height).Hash;
    }

    /// <summary>
    /// The correlation of the two parts scaled to 32×32, over the cells the probe covers whole: the white both parts
    /// hold where the probe does not reach (the corners of a turned copy) would otherwise count as agreement.
    /// </summary>
    private static double Correlation(GrayImage a, GrayImage b, GrayImage covered)
    {
        var pa = a.Resized(CorrelationSide, CorrelationSide).Pixels;
        var pb = b.Resized(CorrelationSide, CorrelationSide).Pixels;
        var cells = covered.Resized(CorrelationSide, CorrelationSide).Pixels;
        double ma = 0, mb = 0;
        var count = 0;
        for (var i = 0; i < pa.Length; i++)
        {
            if (cells[i] == 255)
            {
                ma += pa[i];
                mb += pb[i];
                count++;
            }
        }

        if (count < MinCorrelationCells)
        {
            return 0;
        }

        ma /= count;
        mb /= count;
        double ab = 0, aa = 0, bb = 0;
        for (var i = 0; i < pa.Length; i++)
        {
            if (cells[i] == 255)
            {
                double da = pa[i] - ma, db = pb[i] - mb;
                ab += da * db;
                aa += da * da;
                bb += db * db;
            }
        }

        return aa == 0 || bb == 0 ? 0 : ab / Math.Sqrt(aa * bb);
    }
}

using System.Collections.Concurrent;
using System.Globalization;
using ConsentRegistry.Core.Pdq;
using OpenCvSharp;

namespace ConsentRegistry.NearDup;

/// <summary>
/// Local features that only propose: the similarity transform <see cref="LocalFeatureMethod"/> fits between
/// a probe and a claim lays the probe over the claimed picture, and the two are then compared where they
/// overlap, pixel for pixel, by PDQ and by correlation. A crop, a border, a screenshot or a rotation of the
/// picture lines up with it again; another drawing that shares some outlines (a jigsaw piece, a card of
/// another deck) lines up in part but differs in the rest.
/// Scores the aligned PDQ distance of pairs with at least <see cref="MinInliers"/> inliers over at least
/// <see cref="MinOverlap"/> of the claim (256 otherwise), and writes every pair with at least
/// <see cref="LogInliers"/> inliers to <c>pairs-aligned.tsv</c> for offline study.
/// </summary>
public sealed class AlignedMethod(IReadOnlyList<double> thresholds) : IMatchMethod
{
    public const int LogInliers = 6;
    private const int MinInliers = 10;
    private const double MinOverlap = 0.5;
    private const int MinSide = 32;
    private const int CorrelationSide = 32;
    private const int CellGrid = 8;
    private const int CellSide = 8;
    private const double FlatCell = 4;
    private const double AgreeingCell = 0.7;

    private readonly ConcurrentBag<string> _pairs = [];

    private sealed record Side(Mat Gray, LocalFeatureMethod.Features Features);

    private sealed record ClaimImage(string Path, Side Plain, Side Mirrored);

    private sealed record ProbeImage(string Path, Side Side);

    public string Name => "aligned";

    public IReadOnlyList<double> Thresholds => thresholds;

    public object? Claim(string path)
    {
        var gray = LocalFeatureMethod.Read(path);
        if (gray is null)
        {
            return null;
        }

        var mirror = new Mat();
        Cv2.Flip(gray, mirror, FlipMode.Y);
        return new ClaimImage(path, new Side(gray, LocalFeatureMethod.Detect(gray)), new Side(mirror, LocalFeatureMethod.Detect(mirror)));
    }

    public object? Probe(string path) =>
        LocalFeatureMethod.Read(path) is { } gray ? new ProbeImage(path, new Side(gray, LocalFeatureMethod.Detect(gray))) : null;

    public double Score(object claim, object probe)
    {
        var c = (ClaimImage)claim;
        var p = (ProbeImage)probe;
        return Math.Min(Compare(c, c.Plain, false, p), Compare(c, c.Mirrored, true, p));
    }

    /// <summary>
    /// Writes the logged pairs (probe, claim, mirrored, inliers, overlap, aligned PDQ distance, correlation, and the
    /// cells' count, median correlation and share agreeing).
    /// </summary>
    public void SavePairs(string folder, string suffix = "")
    {
        var path = System.IO.Path.Combine(folder, $"pairs-aligned{suffix}.tsv");
        File.WriteAllLines(path, _pairs.Order(StringComparer.Ordinal)
            .Prepend("probe\tclaim\tmirrored\tinliers\toverlap\tpdq\tcorrelation\tcells\tcell_median\tcells_agreeing"));
        Console.WriteLine($"pairs: {path} ({_pairs.Count})");
    }

    private double Compare(ClaimImage claim, Side side, bool mirrored, ProbeImage probe)
    {
        var (inliers, transform) = LocalFeatureMethod.Fit(side.Features, probe.Side.Features);
        using (transform)
        {
            if (transform is null || inliers < LogInliers)
            {
                return 256;
            }

            var (overlap, distance, correlation, cells) = Overlay(side.Gray, probe.Side.Gray, transform);
            _pairs.Add(string.Join('\t', probe.Path, claim.Path, mirrored ? "1" : "0", inliers.ToString(CultureInfo.InvariantCulture),
                overlap.ToString("0.000", CultureInfo.InvariantCulture), distance.ToString(CultureInfo.InvariantCulture),
                correlation.ToString("0.0000", CultureInfo.InvariantCulture), cells.Textured.ToString(CultureInfo.InvariantCulture),
                cells.Median.ToString("0.0000", CultureInfo.InvariantCulture), cells.Agreeing.ToString("0.000", CultureInfo.InvariantCulture)));
            return inliers >= MinInliers && overlap >= MinOverlap ? distance : 256;
        }
    }

    /// <summary>
    /// Lays the probe over the claim by the transform and compares the two where the probe covers the claim:
    /// the share of the claim covered, the PDQ distance of the two overlapping parts (the rest of the bounding
    /// box white in both), and the correlation of the parts scaled to 32×32.
    /// </summary>
    private static (double Overlap, int Distance, double Correlation, CellScores Cells) Overlay(Mat claim, Mat probe, Mat transform)
    {
        using var warped = new Mat();
        Cv2.WarpAffine(probe, warped, transform, claim.Size(), InterpolationFlags.Linear, BorderTypes.Constant, Scalar.White);
        using var ones = new Mat(probe.Size(), MatType.CV_8UC1, Scalar.White);
        using var mask = new Mat();
        Cv2.WarpAffine(ones, mask, transform, claim.Size(), InterpolationFlags.Nearest, BorderTypes.Constant, Scalar.Black);
        var covered = Cv2.CountNonZero(mask);
        var overlap = covered / (double)(claim.Rows * claim.Cols);
        var box = Cv2.BoundingRect(mask);
        if (box.Width < MinSide || box.Height < MinSide)
        {
            return (overlap, 256, -1, new CellScores(0, -1, 0));
        }

        using var claimPart = new Mat(claim, box).Clone();
        using var maskPart = new Mat(mask, box);
        using var outside = new Mat();
        Cv2.BitwiseNot(maskPart, outside);
        claimPart.SetTo(Scalar.White, outside);
        using var probePart = new Mat(warped, box);
        var distance = Hash(claimPart).HammingDistance(Hash(probePart));
        return (overlap, distance, Correlation(claimPart, probePart), Cells(claimPart, probePart));
    }

    private readonly record struct CellScores(int Textured, double Median, double Agreeing);

    /// <summary>
    /// Both parts scaled to 64×64 and cut into 8×8 cells; each cell that is not flat in either image scores the
    /// correlation of its pixels, which a uniform change within the cell (a translucent band, a colour shift) leaves
    /// alone. Returns the count of such cells, their median correlation and the share at or above 0.7.
    /// </summary>
    private static CellScores Cells(Mat a, Mat b)
    {
        const int side = CellGrid * CellSide;
        var (pa, pb) = (Scaled(a, side), Scaled(b, side));
        var scores = new List<double>();
        var flat = FlatCell * FlatCell * CellSide * CellSide;
        for (var cy = 0; cy < CellGrid; cy++)
        {
            for (var cx = 0; cx < CellGrid; cx++)
            {
                var (ab, aa, bb) = Moments(pa, pb, side, cx * CellSide, cy * CellSide, CellSide);
                if (aa < flat && bb < flat)
                {
                    continue;
                }

                scores.Add(aa < flat || bb < flat ? 0 : ab / Math.Sqrt(aa * bb));
            }
        }

        if (scores.Count == 0)
        {
            return new CellScores(0, -1, 0);
        }

        scores.Sort();
        return new CellScores(scores.Count, scores[scores.Count / 2], scores.Count(s => s >= AgreeingCell) / (double)scores.Count);
    }

    private static PdqHash Hash(Mat gray)
    {
        using var dense = gray.Clone();
        int rows = dense.Rows, cols = dense.Cols;
        dense.GetArray(out byte[] bytes);
        var luma = new float[rows * cols];
        for (var i = 0; i < luma.Length; i++)
        {
            luma[i] = bytes[i];
        }

        return PdqHasher.HashLuma(luma, cols, rows).Hash;
    }

    private static double Correlation(Mat a, Mat b)
    {
        var (ab, aa, bb) = Moments(Scaled(a, CorrelationSide), Scaled(b, CorrelationSide), CorrelationSide, 0, 0, CorrelationSide);
        return aa == 0 || bb == 0 ? 0 : ab / Math.Sqrt(aa * bb);
    }

    /// <summary>The grey image scaled to <paramref name="side"/>×<paramref name="side"/> (area averaging), row by row.</summary>
    private static byte[] Scaled(Mat gray, int side)
    {
        using var scaled = new Mat();
        Cv2.Resize(gray, scaled, new Size(side, side), interpolation: InterpolationFlags.Area);
        scaled.GetArray(out byte[] pixels);
        return pixels;
    }

    /// <summary>
    /// The co-moment and the two second moments about their means of a square of <paramref name="size"/> pixels at
    /// (<paramref name="left"/>, <paramref name="top"/>) in two images of <paramref name="stride"/> pixels a row:
    /// their correlation is ab / √(aa·bb).
    /// </summary>
    private static (double Ab, double Aa, double Bb) Moments(byte[] a, byte[] b, int stride, int left, int top, int size)
    {
        double ma = 0, mb = 0;
        for (var y = top; y < top + size; y++)
        {
            for (var x = left; x < left + size; x++)
            {
                ma += a[y * stride + x];
                mb += b[y * stride + x];
            }
        }

        ma /= size * size;
        mb /= size * size;
        double ab = 0, aa = 0, bb = 0;
        for (var y = top; y < top + size; y++)
        {
            for (var x = left; x < left + size; x++)
            {
                double da = a[y * stride + x] - ma, db = b[y * stride + x] - mb;
                ab += da * db;
                aa += da * da;
                bb += db * db;
            }
        }

        return (ab, aa, bb);
    }
}

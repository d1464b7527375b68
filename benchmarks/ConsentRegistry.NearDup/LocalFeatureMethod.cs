using OpenCvSharp;
using SkiaSharp;

namespace ConsentRegistry.NearDup;

/// <summary>
/// Local-feature verification, to see what it is worth before building it into the registry: ORB
/// keypoints of both images (flattened on white, scaled to 512 px on the longer side), descriptor matches kept by
/// Lowe's ratio test, and the matches consistent with one similarity transform (rotation, scale,
/// shift; RANSAC). The claim also keeps the features of its mirror image, so a mirrored copy is
/// checked against those. Scores minus the inliers, so a threshold of −12 means at least 12
/// geometrically consistent matches.
/// </summary>
public sealed class LocalFeatureMethod(IReadOnlyList<double> thresholds) : IMatchMethod
{
    private const int Side = 512;
    /// <summary>ORB's keypoints per image (<c>--orb-features</c>).</summary>
    public static int MaxFeatures { get; set; } = 1000;

    /// <summary>ORB's FAST corner threshold (<c>--orb-fast</c>; OpenCV's default 20): lower finds corners in flatter pictures.</summary>
    public static int FastThreshold { get; set; } = 20;

    private const double Ratio = 0.8;
    private const double ReprojectionPixels = 6;
    private const double MinScale = 0.25;
    private const double MaxScale = 4;

    public sealed record Features(KeyPoint[] Points, Mat Descriptors);

    public string Name => "local";

    public IReadOnlyList<double> Thresholds => thresholds;

    public object? Claim(string path) => Read(path) is { } gray ? Both(gray) : null;

    public object? Probe(string path)
    {
        using var gray = Read(path);
        return gray is null ? null : Detect(gray);
    }

    public double Score(object claim, object probe)
    {
        var (plain, mirrored) = ((Features, Features))claim;
        var query = (Features)probe;
        return -Math.Max(Inliers(plain, query), Inliers(mirrored, query));
    }

    private static (Features, Features) Both(Mat gray)
    {
        using (gray)
        {
            using var mirror = new Mat();
            Cv2.Flip(gray, mirror, FlipMode.Y);
            return (Detect(gray), Detect(mirror));
        }
    }

    public static Features Detect(Mat gray)
    {
        using var orb = ORB.Create(MaxFeatures, fastThreshold: FastThreshold);
        var descriptors = new Mat();
        orb.DetectAndCompute(gray, null, out var points, descriptors);
        return new Features(points, descriptors);
    }

    public static int Inliers(Features a, Features b)
    {
        var (inliers, transform) = Fit(a, b);
        transform?.Dispose();
        return inliers;
    }

    /// <summary>
    /// The matches of <paramref name="b"/>'s keypoints on <paramref name="a"/>'s consistent with one similarity
    /// transform, counted once per landing pixel, and that transform (2×3, from b's pixels to a's); no
    /// transform when none fits.
    /// </summary>
    public static (int Inliers, Mat? Transform) Fit(Features a, Features b)
    {
        if (a.Points.Length < 3 || b.Points.Length < 3)
        {
            return (0, null);
        }

        using var matcher = new BFMatcher(NormTypes.Hamming);
        var pairs = matcher.KnnMatch(b.Descriptors, a.Descriptors, 2);
        var from = new List<Point2f>();
        var to = new List<Point2f>();
        foreach (var pair in pairs)
        {
            if (pair.Length == 2 && pair[0].Distance < Ratio * pair[1].Distance)
            {
                from.Add(b.Points[pair[0].QueryIdx].Pt);
                to.Add(a.Points[pair[0].TrainIdx].Pt);
            }
        }

        if (from.Count < 3)
        {
            return (0, null);
        }

        using var fromMat = InputArray.Create(from);
        using var toMat = InputArray.Create(to);
        using var mask = new Mat();
        var transform = Cv2.EstimateAffinePartial2D(fromMat, toMat, mask, RobustEstimationAlgorithms.RANSAC, ReprojectionPixels);
        if (transform is null || transform.Empty())
        {
            transform?.Dispose();
            return (0, null);
        }

        // A degenerate fit (everything mapped onto a few points) agrees with any matches: only a
        // plausible scale counts, and each inlier must land on its own pixel.
        var scale = Math.Sqrt(Math.Pow(transform.At<double>(0, 0), 2) + Math.Pow(transform.At<double>(1, 0), 2));
        if (scale is < MinScale or > MaxScale)
        {
            transform.Dispose();
            return (0, null);
        }

        var landed = new HashSet<(int, int)>();
        for (var i = 0; i < from.Count; i++)
        {
            if (mask.At<byte>(i) != 0)
            {
                landed.Add(((int)to[i].X, (int)to[i].Y));
            }
        }

        return (landed.Count, transform);
    }

    /// <summary>The image as 8-bit grey, transparency flattened on white, 512 px on the longer side; null when unreadable.</summary>
    public static Mat? Read(string path)
    {
        using var bitmap = SKBitmap.Decode(path);
        if (bitmap is null)
        {
            return null;
        }

        // Scaled up too: ORB finds no corners on a 60-pixel icon (its patches are 31 pixels wide).
        var scale = (double)Side / Math.Max(bitmap.Width, bitmap.Height);
        var width = Math.Max(1, (int)Math.Round(bitmap.Width * scale));
        var height = Math.Max(1, (int)Math.Round(bitmap.Height * scale));
        using var flat = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(flat))
        {
            canvas.Clear(SKColors.White);
            using var image = SKImage.FromBitmap(bitmap);
            canvas.DrawImage(image, new SKRect(0, 0, width, height), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        }

        using var rgba = Mat.FromPixelData(height, width, MatType.CV_8UC4, flat.GetPixels(), flat.RowBytes);
        var mat = new Mat();
        Cv2.CvtColor(rgba, mat, ColorConversionCodes.RGBA2GRAY);
        return mat;
    }
}

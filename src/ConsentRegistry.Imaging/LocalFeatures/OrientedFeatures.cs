using ConsentRegistry.Core;

namespace ConsentRegistry.Imaging.LocalFeatures;

/// <summary>A corner found in an image: where it is on the full-size image, its orientation and its strength.</summary>
public readonly record struct Keypoint(float X, float Y, float Angle, float Response, int Level);

/// <summary>The keypoints of an image and their 256-bit binary descriptors, four 64-bit words each, in the same order.</summary>
public sealed class FeatureSet(Keypoint[] points, ulong[] descriptors)
{
    public const int DescriptorWords = 4;

    public Keypoint[] Points { get; } = points;

    public ulong[] Descriptors { get; } = descriptors;

    public int Count => Points.Length;

    public ReadOnlySpan<ulong> Descriptor(int i) => Descriptors.AsSpan(i * DescriptorWords, DescriptorWords);
}

/// <summary>
/// Oriented corners with rotated binary descriptors, after Rublee et al., "ORB: an efficient alternative to
/// SIFT or SURF" (ICCV 2011), in managed code: FAST-9 corners on a pyramid of 8 levels 1.2 apart, spread over
/// the levels by area (each level's share: the twice as many best by FAST score, ranked again by Harris response), each oriented by its patch's intensity
/// centroid, and described by 256 comparisons of smoothed pixel pairs drawn once from a Gaussian around the
/// corner (BRIEF) and turned with it. What it finds survives scaling, rotation, cropping and re-encoding, so
/// two copies of a picture share many of them in the same geometric arrangement.
/// </summary>
public static class OrientedFeatures
{
    public const int Levels = 8;
    public const double LevelScale = 1.2;

    /// <summary>The descriptor's patch radius: a corner closer than this (plus one) to an edge is not described.</summary>
    private const int PatchRadius = 15;
    private const int Border = PatchRadius + 1;
    private const int Bits = FeatureSet.DescriptorWords * 64;
    private const int AngleBins = 30;
    private const double HarrisK = 0.04;

    // The 16 pixels of the Bresenham circle of radius 3 around a FAST candidate, clockwise from the top.
    private static readonly (int X, int Y)[] Circle =
    [
        (0, -3), (1, -3), (2, -2), (3, -1), (3, 0), (3, 1), (2, 2), (1, 3),
        (0, 3), (-1, 3), (-2, 2), (-3, 1), (-3, 0), (-3, -1), (-2, -2), (-1, -3),
    ];

    // The first pixels of the circle's 8 opposite pairs, in the order FAST tests them: far-apart pairs first reject soonest.
    private static readonly int[] OppositePairs = [0, 4, 2, 6, 1, 5, 3, 7];

    // The comparison pairs, turned for each angle bin: [bin][bit] = (x1, y1, x2, y2), all within the patch.
    private static readonly (sbyte X1, sbyte Y1, sbyte X2, sbyte Y2)[][] Patterns = BuildPatterns();

    // Half-widths of the patch's rows, for the intensity centroid over a disc.
    private static readonly int[] DiscRows = Enumerable.Range(0, PatchRadius + 1)
        .Select(dy => (int)Math.Floor(Math.Sqrt(PatchRadius * PatchRadius - dy * dy))).ToArray();

    /// <summary>
    /// At most <paramref name="maxFeatures"/> keypoints of <paramref name="image"/> and their descriptors; a lower
    /// <paramref name="fastThreshold"/> (the grey-level step a corner's arc must make) finds corners in flatter pictures.
    /// </summary>
    public static FeatureSet Detect(GrayImage image, int maxFeatures = 1000, int fastThreshold = 7)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(fastThreshold, 1);
        var points = new List<Keypoint>(maxFeatures);
        var descriptors = new List<ulong>(maxFeatures * FeatureSet.DescriptorWords);
        var factor = 1 / LevelScale;
        var perLevel = maxFeatures * (1 - factor) / (1 - Math.Pow(factor, Levels));
        var level = image;
        Span<ulong> words = stackalloc ulong[FeatureSet.DescriptorWords];
        for (var l = 0; l < Levels; l++, perLevel *= factor)
        {
            if (l > 0)
            {
                var scale = Math.Pow(LevelScale, l);
                var (w, h) = ((int)Math.Round(image.Width / scale), (int)Math.Round(image.Height / scale));
                if (w <= 2 * Border || h <= 2 * Border)
                {
                    break;
                }

                level = image.Resized(w, h);
            }

            var quota = l == Levels - 1 ? maxFeatures - points.Count : (int)Math.Round(perLevel);
            var corners = Corners(level, fastThreshold, Math.Max(0, Math.Min(quota, maxFeatures - points.Count)));
            if (corners.Count == 0)
            {
                continue;
            }

            var smoothed = Smoothed(level);
            var (sx, sy) = ((double)image.Width / level.Width, (double)image.Height / level.Height);
            foreach (var (x, y, response) in corners)
            {
                var angle = Orientation(level, x, y);
                Describe(smoothed, x, y, angle, words);
                points.Add(new Keypoint((float)((x + 0.5) * sx - 0.5), (float)((y + 0.5) * sy - 0.5), (float)angle, response, l));
                foreach (var word in words)
                {
                    descriptors.Add(word);
                }
            }
        }

        return new FeatureSet([.. points], [.. descriptors]);
    }

    /// <summary>
    /// The strongest FAST-9 corners of one level by Harris response, after 3×3 non-maximum suppression of their FAST
    /// scores; only the 2 × <paramref name="quota"/> best by FAST score have their Harris response computed.
    /// </summary>
    private static List<(int X, int Y, float Response)> Corners(GrayImage image, int threshold, int quota)
    {
        var found = new List<(int X, int Y, float Response)>();
        if (quota == 0)
        {
            return found;
        }

        var peaks = new List<(int X, int Y, int Score)>();

        int width = image.Width, height = image.Height;
        var scores = new int[width * height];
        var pixels = image.Pixels;
        Span<int> offsets = stackalloc int[Circle.Length];
        for (var i = 0; i < Circle.Length; i++)
        {
            offsets[i] = Circle[i].Y * width + Circle[i].X;
        }

        for (var y = Border; y < height - Border; y++)
        {
            for (var x = Border; x < width - Border; x++)
            {
                scores[y * width + x] = FastScore(pixels, y * width + x, offsets, threshold);
            }
        }

        for (var y = Border; y < height - Border; y++)
        {
            for (var x = Border; x < width - Border; x++)
            {
                var at = y * width + x;
                var score = scores[at];
                if (score > 0 && IsPeak(scores, at, width, score))
                {
                    peaks.Add((x, y, score));
                }
            }
        }

        // Ties by position, so that the cut does not depend on the sort's order for equal scores.
        peaks.Sort((a, b) => b.Score != a.Score ? b.Score.CompareTo(a.Score) : a.Y != b.Y ? a.Y.CompareTo(b.Y) : a.X.CompareTo(b.X));
        foreach (var (x, y, _) in peaks.Take(2 * quota))
        {
            found.Add((x, y, Harris(image, x, y)));
        }

        found.Sort((a, b) => b.Response != a.Response ? b.Response.CompareTo(a.Response) : a.Y != b.Y ? a.Y.CompareTo(b.Y) : a.X.CompareTo(b.X));
        if (found.Count > quota)
        {
            found.RemoveRange(quota, found.Count - quota);
        }

        return found;
    }

    /// <summary><see cref="FastScore(byte[], int, ReadOnlySpan{int}, int)"/> of the pixel at (<paramref name="x"/>, <paramref name="y"/>), 3 or more pixels from every edge.</summary>
    internal static int FastScore(GrayImage image, int x, int y, int threshold)
    {
        Span<int> offsets = stackalloc int[Circle.Length];
        for (var i = 0; i < Circle.Length; i++)
        {
            offsets[i] = Circle[i].Y * image.Width + Circle[i].X;
        }

        return FastScore(image.Pixels, y * image.Width + x, offsets, threshold);
    }

    /// <summary>
    /// 0 unless 9 contiguous pixels of the circle are all brighter than the centre by more than the threshold, or all
    /// darker; otherwise how far, beyond the threshold, the circle's pixels on that side differ from the centre in all.
    /// </summary>
    private static int FastScore(byte[] pixels, int at, ReadOnlySpan<int> offsets, int threshold)
    {
        int centre = pixels[at];
        int high = centre + threshold, low = centre - threshold;

        // An arc of 9 of the 16 pixels holds one of any two opposite pixels: unless, for each of the 8 opposite
        // pairs, one pixel of the pair is brighter (or one is darker), there is no corner. Most pixels fail early.
        var sides = 3;
        foreach (var pair in OppositePairs)
        {
            sides &= Side(pixels[at + offsets[pair]], low, high) | Side(pixels[at + offsets[pair + 8]], low, high);
            if (sides == 0)
            {
                return 0;
            }
        }

        // One bit per circle pixel on each side; an arc of 9 is a run of 9 set bits, read around the circle.
        uint brighterBits = 0, darkerBits = 0;
        for (var i = 0; i < offsets.Length; i++)
        {
            int value = pixels[at + offsets[i]];
            brighterBits |= (value > high ? 1u : 0u) << i;
            darkerBits |= (value < low ? 1u : 0u) << i;
        }

        var side = HasArcOfNine(brighterBits) ? 1 : HasArcOfNine(darkerBits) ? -1 : 0;
        if (side == 0)
        {
            return 0;
        }

        var sum = 1;
        for (var i = 0; i < offsets.Length; i++)
        {
            int value = pixels[at + offsets[i]];
            sum += side > 0 ? Math.Max(0, value - high) : Math.Max(0, low - value);
        }

        return sum;
    }

    /// <summary>1 when <paramref name="value"/> is darker than <paramref name="low"/>, 2 when brighter than <paramref name="high"/>, else 0.</summary>
    private static int Side(int value, int low, int high) => (value < low ? 1 : 0) | (value > high ? 2 : 0);

    /// <summary>Whether 9 consecutive of the 16 bits are set, counting around from bit 15 to bit 0.</summary>
    internal static bool HasArcOfNine(uint bits)
    {
        var around = bits | (bits << 16);
        var two = around & (around >> 1);
        var four = two & (two >> 2);
        var eight = four & (four >> 4);
        return (eight & (around >> 8) & 0xFFFF) != 0;
    }

    private static bool IsPeak(int[] scores, int at, int width, int score)
    {
        for (var dy = -1; dy <= 1; dy++)
        {
            for (var dx = -1; dx <= 1; dx++)
            {
                var other = scores[at + dy * width + dx];
                // Ties go to the first in reading order, so a plateau keeps one corner.
                if (other > score || (other == score && dy * width + dx < 0 && (dx, dy) != (0, 0)))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>The Harris corner response over the 7×7 block around a pixel, from Sobel gradients.</summary>
    private static float Harris(GrayImage image, int x, int y)
    {
        double a = 0, b = 0, c = 0;
        var p = image.Pixels;
        var w = image.Width;
        for (var v = y - 3; v <= y + 3; v++)
        {
            for (var u = x - 3; u <= x + 3; u++)
            {
                var at = v * w + u;
                double gx = (p[at - w + 1] + 2 * p[at + 1] + p[at + w + 1]) - (p[at - w - 1] + 2 * p[at - 1] + p[at + w - 1]);
                double gy = (p[at + w - 1] + 2 * p[at + w] + p[at + w + 1]) - (p[at - w - 1] + 2 * p[at - w] + p[at - w + 1]);
                a += gx * gx;
                b += gy * gy;
                c += gx * gy;
            }
        }

        return (float)(a * b - c * c - HarrisK * (a + b) * (a + b));
    }

    /// <summary>The direction, in radians, from a corner to the intensity centroid of the disc of the patch around it.</summary>
    private static double Orientation(GrayImage image, int x, int y)
    {
        long m10 = 0, m01 = 0;
        for (var dy = -PatchRadius; dy <= PatchRadius; dy++)
        {
            var half = DiscRows[Math.Abs(dy)];
            var row = (y + dy) * image.Width + x;
            for (var dx = -half; dx <= half; dx++)
            {
                int value = image.Pixels[row + dx];
                m10 += dx * value;
                m01 += dy * value;
            }
        }

        return Math.Atan2(m01, m10);
    }

    private static void Describe(GrayImage smoothed, int x, int y, double angle, Span<ulong> words)
    {
        var bin = (int)Math.Round(angle / (2 * Math.PI / AngleBins));
        var pattern = Patterns[((bin % AngleBins) + AngleBins) % AngleBins];
        words.Clear();
        var p = smoothed.Pixels;
        var w = smoothed.Width;
        var centre = y * w + x;
        for (var i = 0; i < Bits; i++)
        {
            var (x1, y1, x2, y2) = pattern[i];
            if (p[centre + y1 * w + x1] < p[centre + y2 * w + x2])
            {
                words[i >> 6] |= 1UL << (i & 63);
            }
        }
    }

    /// <summary>The image smoothed by a Gaussian of σ 2 (9 taps each way), which the descriptor's comparisons need to be stable.</summary>
    private static GrayImage Smoothed(GrayImage image)
    {
        // e^(-k²/8) for k = 0 to 4, scaled so that the nine taps sum to 256; edges repeat their last pixel.
        const int k0 = 52, k1 = 46, k2 = 32, k3 = 17, k4 = 7;
        int width = image.Width, height = image.Height;
        var source = image.Pixels;
        var across = new int[width * height];
        var row = new int[width + 8];
        for (var y = 0; y < height; y++)
        {
            var line = y * width;
            for (var x = -4; x < width + 4; x++)
            {
                row[x + 4] = source[line + Math.Clamp(x, 0, width - 1)];
            }

            for (var x = 0; x < width; x++)
            {
                var c = x + 4;
                across[line + x] = k0 * row[c] + k1 * (row[c - 1] + row[c + 1]) + k2 * (row[c - 2] + row[c + 2])
                    + k3 * (row[c - 3] + row[c + 3]) + k4 * (row[c - 4] + row[c + 4]);
            }
        }

        var output = new byte[width * height];
        for (var y = 0; y < height; y++)
        {
            int m1 = Math.Max(y - 1, 0) * width, m2 = Math.Max(y - 2, 0) * width, m3 = Math.Max(y - 3, 0) * width, m4 = Math.Max(y - 4, 0) * width;
            int p1 = Math.Min(y + 1, height - 1) * width, p2 = Math.Min(y + 2, height - 1) * width;
            int p3 = Math.Min(y + 3, height - 1) * width, p4 = Math.Min(y + 4, height - 1) * width;
            var line = y * width;
            for (var x = 0; x < width; x++)
            {
                var sum = k0 * across[line + x] + k1 * (across[m1 + x] + across[p1 + x]) + k2 * (across[m2 + x] + across[p2 + x])
                    + k3 * (across[m3 + x] + across[p3 + x]) + k4 * (across[m4 + x] + across[p4 + x]);
                output[line + x] = (byte)((sum + 32768) >> 16);
            }
        }

        return new GrayImage(width, height, output);
    }

    /// <summary>
    /// 256 point pairs drawn from an isotropic Gaussian of σ = 31/5 around the corner (Calonder et al.'s best
    /// sampling for BRIEF), each point kept within the patch's disc, by a fixed generator so that every process
    /// draws the same; then turned for each angle bin.
    /// </summary>
    private static (sbyte, sbyte, sbyte, sbyte)[][] BuildPatterns()
    {
        var random = new SplitMix64(0x436F6E73656E7452); // fixed: descriptors are only ever compared within one build
        var pairs = new (double X1, double Y1, double X2, double Y2)[Bits];
        const double sigma = (2 * PatchRadius + 1) / 5.0;
        for (var i = 0; i < Bits; i++)
        {
            var (x1, y1) = InDisc(ref random, sigma);
            var (x2, y2) = InDisc(ref random, sigma);
            pairs[i] = (x1, y1, x2, y2);
        }

        var patterns = new (sbyte, sbyte, sbyte, sbyte)[AngleBins][];
        for (var bin = 0; bin < AngleBins; bin++)
        {
            var theta = bin * 2 * Math.PI / AngleBins;
            var (cos, sin) = (Math.Cos(theta), Math.Sin(theta));
            patterns[bin] = pairs.Select(p => (Turn(p.X1, p.Y1, cos, sin, across: true), Turn(p.X1, p.Y1, cos, sin, across: false),
                Turn(p.X2, p.Y2, cos, sin, across: true), Turn(p.X2, p.Y2, cos, sin, across: false))).ToArray();
        }

        return patterns;

        // One coordinate of (x, y) turned by the angle: across (x) or down (y).
        static sbyte Turn(double x, double y, double cos, double sin, bool across) => (sbyte)Math.Clamp(
            Math.Round(across ? x * cos - y * sin : x * sin + y * cos), -PatchRadius, PatchRadius);
    }

    private static (double X, double Y) InDisc(ref SplitMix64 random, double sigma)
    {
        while (true)
        {
            var (x, y) = (random.NextGaussian() * sigma, random.NextGaussian() * sigma);
            if (x * x + y * y <= (PatchRadius - 0.5) * (PatchRadius - 0.5))
            {
                return (x, y);
            }
        }
    }
}

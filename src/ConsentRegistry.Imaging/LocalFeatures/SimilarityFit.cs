using ConsentRegistry.Core;
using System.Numerics;

namespace ConsentRegistry.Imaging.LocalFeatures;

/// <summary>
/// A similarity transform (rotation, uniform scale, shift) from a probe image's pixels to a claimed image's:
/// x' = a·x − b·y + tx, y' = b·x + a·y + ty; and how many matched keypoints it carries onto their partners.
/// </summary>
public readonly record struct SimilarityFit(double A, double B, double Tx, double Ty, int Inliers)
{
    /// <summary>Where a point of the claimed image comes from in the probe.</summary>
    public (double X, double Y) Invert(double x, double y)
    {
        var (dx, dy) = (x - Tx, y - Ty);
        var norm = A * A + B * B;
        return ((A * dx + B * dy) / norm, (-B * dx + A * dy) / norm);
    }

    /// <summary>
    /// Matches each of the probe's descriptors to its nearest of the claim's (Hamming distance), keeps those
    /// clearly nearer than the second nearest (Lowe's ratio test), and finds by RANSAC the similarity transform
    /// that most of them agree with, within <paramref name="tolerance"/> pixels of the claim, refined by least
    /// squares over its inliers. Inliers are counted once per claim pixel they land on: a degenerate fit that
    /// maps many matches onto a few points does not count them all. Null when fewer than 3 matches survive or
    /// no fit has a scale within [<paramref name="minScale"/>, <paramref name="maxScale"/>].
    /// </summary>
    public static SimilarityFit? Find(FeatureSet claim, FeatureSet probe, double ratio = 0.8, double tolerance = 6,
        double minScale = 0.25, double maxScale = 4, int iterations = 500)
    {
        var matches = Match(claim, probe, ratio);
        if (matches.Count < 3)
        {
            return null;
        }

        var from = matches.Select(m => new Complex(probe.Points[m.Probe].X, probe.Points[m.Probe].Y)).ToArray();
        var to = matches.Select(m => new Complex(claim.Points[m.Claim].X, claim.Points[m.Claim].Y)).ToArray();
        var random = new SplitMix64(0x5241_4E53_4143_0001UL ^ (ulong)matches.Count);
        (Complex A, Complex T)? best = null;
        var bestCount = 0;
        for (var i = 0; i < iterations; i++)
        {
            var first = (int)(random.Next() % (ulong)from.Length);
            var second = (int)(random.Next() % (ulong)(from.Length - 1));
            second += second >= first ? 1 : 0;
            var span = from[second] - from[first];
            if (span.Magnitude < 1)
            {
                continue;
            }

            var a = (to[second] - to[first]) / span;
            if (a.Magnitude is var scale && (scale < minScale || scale > maxScale))
            {
                continue;
            }

            var t = to[first] - a * from[first];
            var count = CountWithin(from, to, a, t, tolerance);
            if (count > bestCount)
            {
                (best, bestCount) = ((a, t), count);
            }
        }

        if (best is not { } chosen || bestCount < 2)
        {
            return null;
        }

        var refined = Refine(from, to, chosen.A, chosen.T, tolerance) ?? chosen;
        if (refined.A.Magnitude < minScale || refined.A.Magnitude > maxScale)
        {
            refined = chosen;
        }

        var landed = new HashSet<(int, int)>();
        for (var i = 0; i < from.Length; i++)
        {
            if ((refined.A * from[i] + refined.T - to[i]).Magnitude <= tolerance)
            {
                landed.Add(((int)to[i].Real, (int)to[i].Imaginary));
            }
        }

        return new SimilarityFit(refined.A.Real, refined.A.Imaginary, refined.T.Real, refined.T.Imaginary, landed.Count);
    }

    private static int CountWithin(Complex[] from, Complex[] to, Complex a, Complex t, double tolerance)
    {
        var count = 0;
        var squared = tolerance * tolerance;
        for (var i = 0; i < from.Length; i++)
        {
            var d = a * from[i] + t - to[i];
            if (d.Real * d.Real + d.Imaginary * d.Imaginary <= squared)
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>The least-squares similarity over the inliers of (a, t): z' = a·z + t in complex numbers is linear in a and t.</summary>
    private static (Complex A, Complex T)? Refine(Complex[] from, Complex[] to, Complex a, Complex t, double tolerance)
    {
        var inliers = Enumerable.Range(0, from.Length).Where(i => (a * from[i] + t - to[i]).Magnitude <= tolerance).ToArray();
        if (inliers.Length < 2)
        {
            return null;
        }

        Complex meanFrom = 0, meanTo = 0;
        foreach (var i in inliers)
        {
            meanFrom += from[i];
            meanTo += to[i];
        }

        meanFrom /= inliers.Length;
        meanTo /= inliers.Length;
        Complex cross = 0;
        double spread = 0;
        foreach (var i in inliers)
        {
            var f = from[i] - meanFrom;
            cross += Complex.Conjugate(f) * (to[i] - meanTo);
            spread += f.Real * f.Real + f.Imaginary * f.Imaginary;
        }

        if (spread < 1e-9)
        {
            return null;
        }

        var refined = cross / spread;
        return (refined, meanTo - refined * meanFrom);
    }

    private static List<(int Probe, int Claim)> Match(FeatureSet claim, FeatureSet probe, double ratio)
    {
        var matches = new List<(int Probe, int Claim)>();
        if (claim.Count < 2)
        {
            return matches;
        }

        var claimWords = claim.Descriptors;
        for (var p = 0; p < probe.Count; p++)
        {
            var query = probe.Descriptor(p);
            ulong q0 = query[0], q1 = query[1], q2 = query[2], q3 = query[3];
            int best = int.MaxValue, second = int.MaxValue, bestAt = -1;
            for (var c = 0; c < claim.Count; c++)
            {
                var at = c * FeatureSet.DescriptorWords;
                var distance = BitOperations.PopCount(q0 ^ claimWords[at]) + BitOperations.PopCount(q1 ^ claimWords[at + 1])
                    + BitOperations.PopCount(q2 ^ claimWords[at + 2]) + BitOperations.PopCount(q3 ^ claimWords[at + 3]);
                if (distance < best)
                {
                    (second, best, bestAt) = (best, distance, c);
                }
                else if (distance < second)
                {
                    second = distance;
                }
            }

            if (bestAt >= 0 && best < ratio * second)
            {
                matches.Add((p, bestAt));
            }
        }

        return matches;
    }
}

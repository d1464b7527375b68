using System.Collections.Concurrent;
using ConsentRegistry.Core.Pdq;
using SkiaSharp;

namespace ConsentRegistry.NearDup;

/// <summary>
/// Picks originals (round robin over the originals folders, so illustrations and photographs mix), writes
/// the edits of each, and picks distractors from the files left, dropping copies of an original.
/// </summary>
public sealed class SetBuilder(string[] originalDirs, string[] distractorDirs, string outDir, int originalsCount, int distractorsCount, int seed)
{
    /// <summary>
    /// Images no original may copy (PDQ within <see cref="DedupDistance"/>): those of another set, so a training set
    /// built beside the evaluation set shares none of its pictures.
    /// </summary>
    public IReadOnlyList<PdqDihedral> Exclude { get; init; } = [];

    /// <summary>Distractors this close (any of the original's 8 dihedral hashes) or byte-equal count as copies.</summary>
    public const int DedupDistance = 10;

    private const int MaxSide = 1024;

    public Manifest Build()
    {
        var rng = new Random(seed);
        var originals = PickOriginals(rng);
        var originalFiles = originals.ToHashSet();
        Console.WriteLine($"originals: {originals.Count} picked; writing {Edits.Kinds.Length} edits each");
        var (claims, sources, edits) = WriteEdits(originals);

        var pool = ImageFiles.List(distractorDirs).Where(f => !originalFiles.Contains(f)).ToList();
        Shuffle(pool, rng);
        var (distractors, dropped) = PickDistractors(claims, sources, pool);
        string rule = "left out openclipart's generated star polygons (shapes/stars/star_*pt*step.png) as originals and distractors; "
            + $"dropped a distractor whose SHA-256 equals an original's, whose PDQ is within {DedupDistance} of any of an original's 8 dihedral hashes, "
            + $"or that {ReviewedCopies.FileName} lists as the same picture as an original";
        Console.WriteLine($"distractors: {distractors.Count} kept, {dropped} dropped ({rule})");
        return new Manifest(claims, edits, distractors, rule, dropped, sources);
    }

    private List<string> PickOriginals(Random rng)
    {
        var perDir = originalDirs.Select(d => { var l = ImageFiles.List([d]); Shuffle(l, rng); return new Queue<string>(l); }).ToList();
        var picked = new List<string>();
        while (picked.Count < originalsCount && perDir.Any(q => q.Count > 0))
        {
            foreach (var q in perDir)
            {
                while (q.Count > 0 && picked.Count < originalsCount)
                {
                    string f = q.Dequeue();
                    if (picked.Contains(f) || ImageFiles.TryHashDihedral(f) is not { Quality: >= 50 } hash
                        || Exclude.Any(e => MinDistance(e, hash.Original) <= DedupDistance)) continue;
                    picked.Add(f);
                    break;
                }
            }
        }
        return picked;
    }

    /// <summary>
    /// Writes each original as the artist would claim it (flattened on white, at most 1024 px wide, PNG:
    /// transparent clipart would otherwise hash differently from its edits) and its edits.
    /// </summary>
    private (List<string> Claims, List<string> Sources, List<EditEntry> Edits) WriteEdits(List<string> originals)
    {
        var bag = new ConcurrentBag<EditEntry>();
        var claims = new string[originals.Count];
        Directory.CreateDirectory(Path.Combine(outDir, "edits"));
        Directory.CreateDirectory(Path.Combine(outDir, "originals"));
        Parallel.For(0, originals.Count, i =>
        {
            using var decoded = SKBitmap.Decode(originals[i]);
            if (decoded is null) return;
            using var scaled = decoded.Width > MaxSide ? Edits.Resize(decoded, MaxSide) : decoded.Copy();
            using var src = Edits.Flatten(scaled);
            claims[i] = Path.Combine(outDir, "originals", $"{i:D4}.png");
            using (var png = src.Encode(SKEncodedImageFormat.Png, 100)) File.WriteAllBytes(claims[i], png.ToArray());
            var rng = new Random(seed * 7919 + i);
            foreach (string kind in Edits.Kinds)
            {
                using var edited = Edits.Apply(kind, src, rng);
                string path = Path.Combine(outDir, "edits", $"{i:D4}-{kind}.jpg");
                using var data = edited.Encode(SKEncodedImageFormat.Jpeg, Edits.JpegQuality(kind));
                File.WriteAllBytes(path, data.ToArray());
                bag.Add(new EditEntry(kind, path, claims[i]));
            }
        });
        var written = Enumerable.Range(0, originals.Count).Where(i => claims[i] is not null).ToList();
        return (written.Select(i => claims[i]).ToList(), written.Select(i => originals[i]).ToList(),
            bag.OrderBy(e => e.Path, StringComparer.Ordinal).ToList());
    }

    private (List<string> Kept, int Dropped) PickDistractors(List<string> originals, List<string> sources, List<string> pool)
    {
        var reviewed = ReviewedCopies.Load();
        var pictures = OriginalPictures(originals, sources);
        var kept = new List<string>();
        int dropped = 0;
        foreach (var chunk in pool.Chunk(64))
        {
            if (kept.Count >= distractorsCount) break;
            var verdicts = chunk.AsParallel().AsOrdered().Select(f => (File: f, Hash: ImageFiles.TryHashDihedral(f))).ToList();
            foreach (var (file, hash) in verdicts)
            {
                if (hash is null || kept.Count >= distractorsCount) continue;
                var distractor = new Picture(file, ImageFiles.Sha256(file), hash);
                if (pictures.Any(o => SamePicture(o, distractor, reviewed))) dropped++; else kept.Add(file);
            }
            Console.WriteLine($"  distractors: {kept.Count}/{distractorsCount}");
        }
        return (kept, dropped);
    }

    /// <summary>A picture of the packages: its file, that file's SHA-256, and the PDQ hashes of what the set holds of it.</summary>
    public sealed record Picture(string Source, string Sha256, PdqDihedral? Hashes);

    /// <summary>The set's originals as pictures: the SHA-256 of the package file each was made from, the PDQ of the copy the set holds.</summary>
    public static List<Picture> OriginalPictures(IReadOnlyList<string> originals, IReadOnlyList<string> sources) =>
        [.. originals.Zip(sources).AsParallel().AsOrdered()
            .Select(x => new Picture(x.Second, ImageFiles.Sha256(x.Second), ImageFiles.TryHashDihedral(x.First)))];

    /// <summary>
    /// Whether <paramref name="other"/> is the picture <paramref name="original"/> is, by the set's rule: equal bytes,
    /// PDQ within <see cref="DedupDistance"/> of any of the original's 8 dihedral hashes, or listed in
    /// <see cref="ReviewedCopies.FileName"/>.
    /// </summary>
    public static bool SamePicture(Picture original, Picture other, HashSet<(string, string)> reviewed) =>
        original.Sha256 == other.Sha256
        || reviewed.Contains((other.Source, original.Source))
        || (original.Hashes is { } a && other.Hashes is { } b && MinDistance(a, b.Original) <= DedupDistance);

    public static int MinDistance(PdqDihedral claim, PdqHash probe)
    {
        int best = 256;
        foreach (var h in claim.Hashes) best = Math.Min(best, h.HammingDistance(probe));
        return best;
    }

    private static void Shuffle<T>(List<T> list, Random rng)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}

using ConsentRegistry.NearDup;

// build --originals <dirs> --distractors <dirs> --out <folder> [--originals-count 150] [--distractors-count 1000] [--seed N]
//       [--exclude <set folder>]   (no original within PDQ 10 of that set's originals and distractors: a training set)
// evaluate <folder> [--method pdq|embedding|embedding-centred|local|aligned|verified|verified-reversed] [--radius 31] [--orb-features 1000 --orb-fast 20]
//          [--cross]   (every edit scored against the other originals too; scores and pairs go to files named -cross)
//          [--background <dirs> --background-count 500 --seed 2]   (embedding-centred: images outside the set to average)
// features <folder> [--background <dirs> --background-count 3000 --seed 2]   (feature maps for offline pooling studies)
// either <folder> <method>:<threshold> <method>:<threshold>   (a copy is found when either method finds it, from saved scores)
if (args.Length == 0) return Usage();
var opts = Options.Parse(args.Skip(1).ToArray());
switch (args[0])
{
    case "build":
        string outDir = Path.GetFullPath(opts.One("out"));
        Directory.CreateDirectory(outDir);
        var builder = new SetBuilder(opts.Many("originals"), opts.Many("distractors"), outDir,
            opts.Int("originals-count", 150), opts.Int("distractors-count", 1000), opts.Int("seed", 1))
        {
            Exclude = opts.OneOr("exclude", "") is { Length: > 0 } other ? SetImages(other) : [],
        };
        builder.Build().Save(outDir);
        Console.WriteLine($"manifest: {Path.Combine(outDir, Manifest.FileName)}");
        return 0;
    case "evaluate":
        string folder = opts.Positional.FirstOrDefault() ?? throw new ArgumentException("evaluate needs a folder.");
        string name = opts.OneOr("method", "pdq");
        double radius = opts.Int("radius", 31);
        LocalFeatureMethod.MaxFeatures = opts.Int("orb-features", LocalFeatureMethod.MaxFeatures);
        LocalFeatureMethod.FastThreshold = opts.Int("orb-fast", LocalFeatureMethod.FastThreshold);
        var radii = new double[] { 16, 24, 31, 40, 48 }.Append(radius).Distinct().Order().ToList();
        IMatchMethod method = name switch
        {
            "pdq" => new PdqMethod(radii),
            "embedding" => new EmbeddingMethod([0.02, 0.05, 0.1, 0.15, 0.2, 0.3]),
            "local" => new LocalFeatureMethod([-6, -8, -10, -12, -15, -20, -30]),
            "aligned" => new AlignedMethod([16, 24, 31, 40, 48, 64, 80]),
            "verified" => new VerifiedMethod(),
            "verified-reversed" => new VerifiedMethod(reversed: true),
            "embedding-centred" => new CentredEmbeddingMethod([0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5],
                Background(folder, opts.Many("background"), opts.Int("background-count", 500), opts.Int("seed", 2))),
            _ => throw new ArgumentException($"Unknown method {name}: pdq, embedding, embedding-centred, local, aligned, verified or verified-reversed."),
        };
        var cross = opts.Has("cross");
        var evaluator = new Evaluator(method) { Cross = cross };
        var summary = evaluator.Run(folder);
        Console.WriteLine();
        Console.Write(Evaluator.Table(summary));
        var suffix = cross ? "-cross" : "";
        string json = Path.Combine(folder, $"summary-{name}{suffix}.json");
        Evaluator.Save(summary, json);
        Evaluator.Save(evaluator.Last!, Path.Combine(folder, $"scores-{method.Name}{suffix}.json"));
        (method as PdqMethod)?.SavePairs(folder, suffix);
        (method as AlignedMethod)?.SavePairs(folder, suffix);
        (method as VerifiedMethod)?.SavePairs(folder, suffix);
        Console.WriteLine($"summary: {json}");
        return 0;
    case "either":
        if (opts.Positional.Count != 3) return Usage();
        Console.Write(Evaluator.Either(opts.Positional[0], Threshold(opts.Positional[1]), Threshold(opts.Positional[2])));
        return 0;
    case "features":
        string set = opts.Positional.FirstOrDefault() ?? throw new ArgumentException("features needs a folder.");
        FeatureDump.Run(set, Background(set, opts.Many("background"), opts.Int("background-count", 3000), opts.Int("seed", 2)));
        return 0;
    default:
        return Usage();
}

// The 8 dihedral PDQ hashes of every original and distractor of a set.
static List<ConsentRegistry.Core.Pdq.PdqDihedral> SetImages(string folder)
{
    var manifest = Manifest.Load(folder);
    return [.. manifest.Originals.Concat(manifest.Distractors).AsParallel().Select(ImageFiles.TryHashDihedral).OfType<ConsentRegistry.Core.Pdq.PdqDihedral>()];
}

// Image files under the folders that the set does not use as a distractor, sampled with the seed.
static List<string> Background(string folder, IReadOnlyList<string> folders, int count, int seed)
{
    var used = Manifest.Load(folder).Distractors.ToHashSet(StringComparer.Ordinal);
    var files = ImageFiles.List(folders).Where(f => !used.Contains(f)).ToArray();
    new Random(seed).Shuffle(files);
    return [.. files.Take(count)];
}

static (string Method, double Threshold) Threshold(string arg)
{
    var at = arg.LastIndexOf(':');
    return at > 0 && double.TryParse(arg[(at + 1)..], System.Globalization.CultureInfo.InvariantCulture, out var t)
        ? (arg[..at], t)
        : throw new ArgumentException($"Expected <method>:<threshold>, got '{arg}'.");
}

static int Usage()
{
    Console.Error.WriteLine("usage: build --originals <dirs> --distractors <dirs> --out <folder> [--originals-count 150] [--distractors-count 1000] [--seed N] [--exclude <set folder>]");
    Console.Error.WriteLine("       evaluate <folder> [--method pdq|embedding|embedding-centred|local|aligned|verified|verified-reversed] [--radius 31] [--orb-features 1000 --orb-fast 20] [--cross]");
    Console.Error.WriteLine("       either <folder> <method>:<threshold> <method>:<threshold>");
    Console.Error.WriteLine("       features <folder> [--background <dirs> --background-count 3000 --seed 2]");
    return 2;
}

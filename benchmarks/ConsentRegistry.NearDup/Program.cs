using ConsentRegistry.NearDup;

// build --originals <dirs> --distractors <dirs> --out <folder> [--originals-count 150] [--distractors-count 1000] [--seed N]
// evaluate <folder> [--method pdq|embedding|embedding-centred] [--radius 31]
//          [--background <dirs> --background-count 500 --seed 2]   (embedding-centred: images outside the set to average)
if (args.Length == 0) return Usage();
var opts = Options.Parse(args.Skip(1).ToArray());
switch (args[0])
{
    case "build":
        string outDir = Path.GetFullPath(opts.One("out"));
        Directory.CreateDirectory(outDir);
        var builder = new SetBuilder(opts.Many("originals"), opts.Many("distractors"), outDir,
            opts.Int("originals-count", 150), opts.Int("distractors-count", 1000), opts.Int("seed", 1));
        builder.Build().Save(outDir);
        Console.WriteLine($"manifest: {Path.Combine(outDir, Manifest.FileName)}");
        return 0;
    case "evaluate":
        string folder = opts.Positional.FirstOrDefault() ?? throw new ArgumentException("evaluate needs a folder.");
        string name = opts.OneOr("method", "pdq");
        double radius = opts.Int("radius", 31);
        var radii = new double[] { 16, 24, 31, 40, 48 }.Append(radius).Distinct().Order().ToList();
        IMatchMethod method = name switch
        {
            "pdq" => new PdqMethod(radii),
            "embedding" => new EmbeddingMethod([0.02, 0.05, 0.1, 0.15, 0.2, 0.3]),
            "embedding-centred" => new CentredEmbeddingMethod([0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5],
                Background(folder, opts.Many("background"), opts.Int("background-count", 500), opts.Int("seed", 2))),
            _ => throw new ArgumentException($"Unknown method {name}: pdq, embedding or embedding-centred."),
        };
        var summary = new Evaluator(method).Run(folder);
        Console.WriteLine();
        Console.Write(Evaluator.Table(summary));
        string json = Path.Combine(folder, $"summary-{name}.json");
        Evaluator.Save(summary, json);
        Console.WriteLine($"summary: {json}");
        return 0;
    default:
        return Usage();
}

// Image files under the folders that the set does not use as a distractor, sampled with the seed.
static List<string> Background(string folder, IReadOnlyList<string> folders, int count, int seed)
{
    var used = Manifest.Load(folder).Distractors.ToHashSet(StringComparer.Ordinal);
    var files = folders.SelectMany(f => Directory.EnumerateFiles(f, "*", SearchOption.AllDirectories))
        .Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase))
        .Where(f => !used.Contains(f))
        .Order(StringComparer.Ordinal)
        .ToArray();
    new Random(seed).Shuffle(files);
    return [.. files.Take(count)];
}

static int Usage()
{
    Console.Error.WriteLine("usage: build --originals <dirs> --distractors <dirs> --out <folder> [--originals-count 150] [--distractors-count 1000] [--seed N]");
    Console.Error.WriteLine("       evaluate <folder> [--method pdq|embedding] [--radius 31]");
    return 2;
}

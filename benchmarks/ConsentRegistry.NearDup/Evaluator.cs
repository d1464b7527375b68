using System.Text;
using System.Text.Json;

namespace ConsentRegistry.NearDup;

/// <summary>
/// Scores every edit against its own original's claim and every distractor against all claims, then reports
/// per edit kind the recall and the distractor false-match rate at each threshold of the method. With
/// <see cref="Cross"/>, every edit is also scored against every other original's claim, as the service meets
/// it (a claimed copy meets every other party's pictures): the share of edits matched to another picture, leaving
/// out the other originals that are the same picture as the edit's own (<see cref="SamePictures"/>).
/// </summary>
public sealed class Evaluator(IMatchMethod method)
{
    public sealed record Row(string Name, int Count, double[] Rates);

    public sealed record Summary(string Method, double[] Thresholds, List<Row> Recall, Row AllEdits, Row Distractors,
        int Originals, int UnreadableEdits, int UnreadableDistractors, string DedupRule, int DistractorsDropped, Row? OtherPictures = null);

    /// <summary>
    /// Each scored image's score (edits: against their own original; distractors: the closest original; with
    /// <see cref="Cross"/>, <paramref name="OtherOriginals"/>: each edit against the closest original that is another
    /// picture than its own, and <paramref name="SamePictures"/>: the pairs of originals left out as one picture).
    /// </summary>
    public sealed record Scores(string Method, Dictionary<string, double> Edits, Dictionary<string, double> Distractors,
        Dictionary<string, double>? OtherOriginals = null, List<string[]>? SamePictures = null);

    /// <summary>Also score every edit against every other original's claim.</summary>
    public bool Cross { get; init; }

    /// <summary>The scores behind the last <see cref="Run"/>, for combining methods (<see cref="Either"/>).</summary>
    public Scores? Last { get; private set; }

    public Summary Run(string folder)
    {
        var manifest = Manifest.Load(folder);
        var claims = manifest.Originals.AsParallel().Select(o => (o, c: method.Claim(o)))
            .Where(x => x.c is not null).ToDictionary(x => x.o, x => x.c!);
        Console.WriteLine($"claims: {claims.Count} originals hashed");

        var editScores = manifest.Edits.Where(e => claims.ContainsKey(e.Original)).AsParallel()
            .Select(e => (e.Kind, e.Path, Probe: method.Probe(e.Path), e.Original)).ToList();
        var scoredEdits = editScores.Where(x => x.Probe is not null).AsParallel()
            .Select(x => (x.Kind, x.Path, Score: method.Score(claims[x.Original], x.Probe!))).ToList();
        var edits = scoredEdits.Select(x => (x.Kind, x.Score)).ToList();
        Console.WriteLine($"edits: {edits.Count} scored");

        var distractorProbes = manifest.Distractors.AsParallel().Select(p => (Path: p, Probe: method.Probe(p))).ToList();
        var scoredDistractors = distractorProbes.Where(p => p.Probe is not null).AsParallel()
            .Select(p => (p.Path, Score: claims.Values.Min(c => method.Score(c, p.Probe!)))).ToList();
        var distractors = scoredDistractors.Select(x => x.Score).ToList();
        Console.WriteLine($"distractors: {distractors.Count} scored");
        List<(string Path, double Score)>? others = null;
        HashSet<(string, string)>? sameAs = null;
        if (Cross)
        {
            // Another original that is the same picture is no false match for an edit.
            sameAs = SamePictures(manifest);
            others = editScores.Where(x => x.Probe is not null).AsParallel()
                .Select(x => (x.Path, Score: claims.Where(c => c.Key != x.Original && !sameAs.Contains((c.Key, x.Original)))
                    .Select(c => method.Score(c.Value, x.Probe!)).DefaultIfEmpty(double.MaxValue).Min())).ToList();
            Console.WriteLine($"edits against the other originals: {others.Count} scored ({sameAs.Count / 2} pairs of originals left out as one picture)");
        }

        Last = new Scores(method.Name, scoredEdits.ToDictionary(x => x.Path, x => x.Score),
            scoredDistractors.ToDictionary(x => x.Path, x => x.Score), others?.ToDictionary(x => x.Path, x => x.Score),
            sameAs?.OrderBy(p => p.Item1, StringComparer.Ordinal).ThenBy(p => p.Item2, StringComparer.Ordinal).Select(p => new[] { p.Item1, p.Item2 }).ToList());

        var t = method.Thresholds;
        Row Rate(string name, List<double> scores) =>
            new(name, scores.Count, t.Select(th => scores.Count == 0 ? 0 : scores.Count(s => s <= th) / (double)scores.Count).ToArray());
        var perKind = Edits.Kinds.Select(k => Rate(k, edits.Where(e => e.Kind == k).Select(e => e.Score).ToList())).ToList();
        return new Summary(method.Name, t.ToArray(), perKind, Rate("all edits", edits.Select(e => e.Score).ToList()),
            Rate("distractors (false match)", distractors), claims.Count, editScores.Count - edits.Count,
            distractorProbes.Count - distractors.Count, manifest.DedupRule, manifest.DistractorsDropped,
            others is null ? null : Rate("edits matched to another picture", others.Select(x => x.Score).ToList()));
    }

    /// <summary>
    /// Both orders of every pair of the set's originals that are one picture by the rule the set's distractors were
    /// chosen by (<see cref="SetBuilder.SamePicture"/>). The builder applies it to distractors only: a set may hold
    /// one picture twice as originals, under two names.
    /// </summary>
    private static HashSet<(string, string)> SamePictures(Manifest manifest)
    {
        var reviewed = ReviewedCopies.Load();
        var sources = manifest.Sources ?? throw new InvalidDataException("The manifest names no sources: build the set again.");
        var pictures = SetBuilder.OriginalPictures(manifest.Originals, sources);
        return [.. from a in Enumerable.Range(0, pictures.Count)
                   from b in Enumerable.Range(0, pictures.Count)
                   where a != b && (SetBuilder.SamePicture(pictures[a], pictures[b], reviewed) || SetBuilder.SamePicture(pictures[b], pictures[a], reviewed))
                   select (manifest.Originals[a], manifest.Originals[b])];
    }

    public static string Table(Summary s)
    {
        var sb = new StringBuilder();
        sb.Append($"| {s.Method} | n |");
        foreach (var th in s.Thresholds) sb.Append($" ≤ {th} |");
        sb.AppendLine().Append("|---|---:|").Append(string.Concat(s.Thresholds.Select(_ => "---:|"))).AppendLine();
        foreach (var row in s.Recall.Append(s.AllEdits).Append(s.Distractors).Concat(s.OtherPictures is { } other ? [other] : []))
        {
            sb.Append($"| {row.Name} | {row.Count} |");
            foreach (var r in row.Rates) sb.Append($" {r * 100:0.0} % |");
            sb.AppendLine();
        }
        sb.AppendLine($"Originals (claims): {s.Originals}; unreadable edits: {s.UnreadableEdits}; unreadable distractors: {s.UnreadableDistractors}.");
        sb.AppendLine($"Distractor de-duplication: {s.DedupRule}; {s.DistractorsDropped} dropped.");
        return sb.ToString();
    }

    public static void Save<T>(T value, string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(value, new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>
    /// Recall per edit kind and the distractor false-match rate when a copy counts as found as soon as
    /// either method finds it at its threshold, from two methods' saved scores.
    /// </summary>
    public static string Either(string folder, (string Method, double Threshold) a, (string Method, double Threshold) b)
    {
        var manifest = Manifest.Load(folder);
        Scores Load(string m) => JsonSerializer.Deserialize<Scores>(File.ReadAllText(Path.Combine(folder, $"scores-{m}.json")))
            ?? throw new InvalidDataException($"No scores for {m}: run evaluate --method {m} first.");
        var (sa, sb) = (Load(a.Method), Load(b.Method));
        bool Found(Dictionary<string, double> x, Dictionary<string, double> y, string path) =>
            (x.TryGetValue(path, out var s1) && s1 <= a.Threshold) || (y.TryGetValue(path, out var s2) && s2 <= b.Threshold);
        var sb2 = new StringBuilder();
        sb2.AppendLine($"| {a.Method} ≤ {a.Threshold} or {b.Method} ≤ {b.Threshold} | n | found |").AppendLine("|---|---:|---:|");
        foreach (var kind in Edits.Kinds.Append("all edits"))
        {
            var paths = manifest.Edits.Where(e => kind == "all edits" || e.Kind == kind).Select(e => e.Path).ToList();
            sb2.AppendLine($"| {kind} | {paths.Count} | {paths.Count(p => Found(sa.Edits, sb.Edits, p)) * 100.0 / paths.Count:0.0} % |");
        }

        var found = manifest.Distractors.Count(p => Found(sa.Distractors, sb.Distractors, p));
        sb2.AppendLine($"| distractors (false match) | {manifest.Distractors.Count} | {found * 100.0 / manifest.Distractors.Count:0.0} % ({found}) |");
        return sb2.ToString();
    }
}

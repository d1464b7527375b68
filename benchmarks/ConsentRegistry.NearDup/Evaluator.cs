using System.Text;
using System.Text.Json;

namespace ConsentRegistry.NearDup;

/// <summary>
/// Scores every edit against its own original's claim and every distractor against all claims, then reports
/// per edit kind the recall and the distractor false-match rate at each threshold of the method.
/// </summary>
public sealed class Evaluator(IMatchMethod method)
{
    public sealed record Row(string Name, int Count, double[] Rates);

    public sealed record Summary(string Method, double[] Thresholds, List<Row> Recall, Row AllEdits, Row Distractors,
        int Originals, int UnreadableEdits, int UnreadableDistractors, string DedupRule, int DistractorsDropped);

    public Summary Run(string folder)
    {
        var manifest = Manifest.Load(folder);
        var claims = manifest.Originals.AsParallel().Select(o => (o, c: method.Claim(o)))
            .Where(x => x.c is not null).ToDictionary(x => x.o, x => x.c!);
        Console.WriteLine($"claims: {claims.Count} originals hashed");

        var editScores = manifest.Edits.Where(e => claims.ContainsKey(e.Original)).AsParallel()
            .Select(e => (e.Kind, Probe: method.Probe(e.Path), e.Original)).ToList();
        var edits = editScores.Where(x => x.Probe is not null)
            .Select(x => (x.Kind, Score: method.Score(claims[x.Original], x.Probe!))).ToList();
        Console.WriteLine($"edits: {edits.Count} scored");

        var distractorProbes = manifest.Distractors.AsParallel().Select(method.Probe).ToList();
        var distractors = distractorProbes.Where(p => p is not null)
            .Select(p => claims.Values.Min(c => method.Score(c, p!))).ToList();
        Console.WriteLine($"distractors: {distractors.Count} scored");

        var t = method.Thresholds;
        Row Rate(string name, List<double> scores) =>
            new(name, scores.Count, t.Select(th => scores.Count == 0 ? 0 : scores.Count(s => s <= th) / (double)scores.Count).ToArray());
        var perKind = Edits.Kinds.Select(k => Rate(k, edits.Where(e => e.Kind == k).Select(e => e.Score).ToList())).ToList();
        return new Summary(method.Name, t.ToArray(), perKind, Rate("all edits", edits.Select(e => e.Score).ToList()),
            Rate("distractors (false match)", distractors), claims.Count, editScores.Count - edits.Count,
            distractorProbes.Count - distractors.Count, manifest.DedupRule, manifest.DistractorsDropped);
    }

    public static string Table(Summary s)
    {
        var sb = new StringBuilder();
        sb.Append($"| {s.Method} | n |");
        foreach (var th in s.Thresholds) sb.Append($" ≤ {th} |");
        sb.AppendLine().Append("|---|---:|").Append(string.Concat(s.Thresholds.Select(_ => "---:|"))).AppendLine();
        foreach (var row in s.Recall.Append(s.AllEdits).Append(s.Distractors))
        {
            sb.Append($"| {row.Name} | {row.Count} |");
            foreach (var r in row.Rates) sb.Append($" {r * 100:0.0} % |");
            sb.AppendLine();
        }
        sb.AppendLine($"Originals (claims): {s.Originals}; unreadable edits: {s.UnreadableEdits}; unreadable distractors: {s.UnreadableDistractors}.");
        sb.AppendLine($"Distractor de-duplication: {s.DedupRule}; {s.DistractorsDropped} dropped.");
        return sb.ToString();
    }

    public static void Save(Summary s, string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(s, new JsonSerializerOptions { WriteIndented = true }));
}

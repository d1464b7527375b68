namespace ConsentRegistry.NearDup;

/// <summary>
/// Files of the image packages that hold one picture under two names, beyond what the automatic rule (equal
/// bytes, PDQ within 10) finds: pairs judged by eye from the distractors that matched an original, listed in
/// <see cref="FileName"/> beside the harness with what tells them apart. A distractor listed with an original's
/// source file is a copy of that original, not a distractor.
/// </summary>
public static class ReviewedCopies
{
    public const string FileName = "reviewed-copies.tsv";

    /// <summary>Both orders of every listed pair.</summary>
    public static HashSet<(string, string)> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, FileName);
        var pairs = new HashSet<(string, string)>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var fields = line.Split('\t');
            if (fields.Length != 3)
            {
                throw new InvalidDataException($"{FileName}: expected <file>\\t<file>\\t<what differs>, got '{line}'.");
            }

            pairs.Add((fields[0], fields[1]));
            pairs.Add((fields[1], fields[0]));
        }

        return pairs;
    }
}

using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Core.Policy;

/// <summary>A location after merging: a path prefix, what it disallows, and what its covering prefix disallows.</summary>
public readonly record struct MergedLocation(string Path, Decision Decision, Decision Inherited);

/// <summary>
/// Shortens a host's rules for a document that must stay under a size limit: every path is cut to
/// a number of segments, and only what disallows survives the cut, so merged locations disallow
/// more than was opted out, never less. <see cref="DeepestFitting"/> binary-searches the depth,
/// so a claimer's 5,000-segment path costs a dozen merges, not thousands.
/// </summary>
public static class PolicyMerge
{
    /// <summary>The number of segments of the deepest rule: cutting at this depth or deeper changes nothing.</summary>
    public static int Depth(IReadOnlyList<PolicyRule> rules)
    {
        var depth = 0;
        foreach (var rule in rules)
        {
            depth = Math.Max(depth, rule.Path.AsSpan().Count('/'));
        }

        return depth;
    }

    /// <summary>
    /// The deepest cut in [0, <paramref name="depth"/>) whose rendering fits, as <paramref name="render"/>
    /// writes it, or the cut at depth 0 when none does. The size grows with the depth, so a binary
    /// search finds it in log2(depth) renderings.
    /// </summary>
    public static T DeepestFitting<T>(int depth, Func<int, T> render, Func<T, bool> fits)
    {
        var best = render(0);
        int low = 1, high = depth - 1;
        while (low <= high)
        {
            var mid = low + ((high - low) / 2);
            var candidate = render(mid);
            if (fits(candidate))
            {
                best = candidate;
                low = mid + 1;
            }
            else
            {
                high = mid - 1;
            }
        }

        return best;
    }

    /// <summary>Every rule's path cut to <paramref name="depth"/> segments; the locations whose disallowed categories differ from their covering prefix's.</summary>
    public static List<MergedLocation> Merge(IReadOnlyList<PolicyRule> rules, int depth)
    {
        var merged = new SortedDictionary<string, Decision>(StringComparer.Ordinal);
        foreach (var rule in rules)
        {
            var disallowed = Disallowed(rule.Decision);
            if (disallowed == Decision.Unknown)
            {
                continue;
            }

            var path = Cut(rule.Path, depth);
            merged[path] = merged.TryGetValue(path, out var known) ? ContentUsage.Combine(known, disallowed) : disallowed;
        }

        var locations = new List<MergedLocation>(merged.Count);
        var covering = new Stack<(string Path, Decision Decision)>();
        foreach (var (path, decision) in merged)
        {
            while (covering.Count > 0 && !path.StartsWith(covering.Peek().Path, StringComparison.Ordinal))
            {
                covering.Pop();
            }

            var inherited = covering.Count > 0 ? covering.Peek().Decision : Decision.Unknown;
            var combined = ContentUsage.Combine(inherited, decision);
            if (combined != inherited)
            {
                locations.Add(new MergedLocation(path, combined, inherited));
            }

            covering.Push((path, combined));
        }

        return locations;
    }

    private static string Cut(string path, int depth)
    {
        var at = 0;
        for (var segment = 0; segment < depth; segment++)
        {
            var next = path.IndexOf('/', at + 1);
            if (next < 0)
            {
                return path;
            }

            at = next;
        }

        return path[..(at + 1)];
    }

    private static Decision Disallowed(Decision d) => new(
        Only(d.Tdm), Only(d.TrainAi), Only(d.TrainGenAi), Only(d.AiUse), Only(d.Search));

    private static Permission Only(Permission p) => p == Permission.Disallow ? p : Permission.Unknown;
}

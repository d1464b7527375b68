using System.Globalization;
using System.Text;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Core.Policy;

/// <summary>
/// Renders a host's rules as an RFC 9309 robots.txt: one group for the AI-training crawlers
/// (<see cref="AiCrawlers"/>) that disallows what training, generative training or mining is
/// disallowed for, and a <c>*</c> group, each with the IETF aipref <c>Content-Usage</c> lines (a
/// crawler named in a group reads that group only, RFC 9309 2.2.1, so the AI crawlers' group
/// repeats them). Only <c>Disallow</c> lines are
/// written, and each only where a shorter one does not already cover it, so first-match parsers
/// (CPython's) and longest-match parsers (RFC 9309) read the same thing, except that first-match
/// parsers without <c>$</c> support never match an exact-URL rule (docs/crawlers.md).
/// </summary>
public static class RobotsTxt
{
    /// <summary>RFC 9309 2.5: parsers must read at least 500 KiB; beyond that, rules may be lost.</summary>
    public const int MaxBytes = 500 * 1024;

    public static byte[] Render(string host, long seq, IReadOnlyList<PolicyRule> rules, int maxBytes = MaxBytes)
    {
        var lines = Lines(rules);
        var disallows = lines.Where(l => l.Disallow).ToList();
        var text = Write(host, seq, disallows, lines, null);
        if (Fits(text, maxBytes))
        {
            return Encoding.UTF8.GetBytes(text);
        }

        // Too long: cut paths to fewer segments until the file fits, first the Content-Usage lines
        // (so AI crawlers keep exact rules as long as possible), then the Disallow lines.
        var depth = PolicyMerge.Depth(rules);
        var fewestUsages = Merge(rules, 0);
        text = Write(host, seq, disallows, fewestUsages, Merged(rules.Count, disallows.Count, fewestUsages.Count, maxBytes));
        if (Fits(text, maxBytes))
        {
            text = PolicyMerge.DeepestFitting(depth, d => d == 0 ? text : WriteMerged(host, seq, rules, disallows, Merge(rules, d), maxBytes), t => Fits(t, maxBytes));
        }
        else
        {
            text = PolicyMerge.DeepestFitting(depth, d => WriteMerged(host, seq, rules, Merge(rules, d).Where(l => l.Disallow).ToList(), fewestUsages, maxBytes), t => Fits(t, maxBytes));
        }

        return Encoding.UTF8.GetBytes(text);
    }

    private static bool Fits(string text, int maxBytes) => Encoding.UTF8.GetByteCount(text) <= maxBytes;

    private static string WriteMerged(string host, long seq, IReadOnlyList<PolicyRule> rules, List<Line> disallows, List<Line> usages, int maxBytes) =>
        Write(host, seq, disallows, usages, Merged(rules.Count, disallows.Count, usages.Count, maxBytes));

    // The invariant culture: every instance writes the same bytes under one ETag, in ASCII.
    private static string Merged(int rules, int disallows, int usages, int maxBytes) => string.Create(CultureInfo.InvariantCulture,
        $"# This host's {rules:N0} rules were merged into {disallows:N0} Disallow and {usages:N0} Content-Usage lines on shorter\n" +
        $"# path prefixes to keep this file under {maxBytes / 1024:N0} KiB (RFC 9309 2.5): merged lines say only what is disallowed\n" +
        $"# and may cover more than was opted out. GET /v1/policy?url= answers exactly, per URL.\n");

    private static List<Line> Lines(IReadOnlyList<PolicyRule> rules)
    {
        var lines = new List<Line>(rules.Count);
        foreach (var rule in rules)
        {
            var disallow = ContentUsage.DisallowsTraining(rule.Decision) && !ContentUsage.DisallowsTraining(rule.Inherited);
            var usage = rule.Decision != rule.Inherited ? rule.Decision : Decision.Unknown;
            if (disallow || usage != Decision.Unknown)
            {
                lines.Add(new Line(rule.Path, rule.Kind == RuleKind.Exact, disallow, usage));
            }
        }

        return lines;
    }

    private static List<Line> Merge(IReadOnlyList<PolicyRule> rules, int depth) =>
        PolicyMerge.Merge(rules, depth)
            .Select(l => new Line(l.Path, false, ContentUsage.DisallowsTraining(l.Decision) && !ContentUsage.DisallowsTraining(l.Inherited), l.Decision))
            .ToList();

    private static string Write(string host, long seq, List<Line> disallows, List<Line> usages, string? note)
    {
        var text = new StringBuilder(256 + (disallows.Count * 32) + (usages.Count * 128));
        text.Append("# Crawler policy for ");
        RobotsPath.Append(text, host);
        text.Append(" from ConsentRegistry, as of seq ").Append(seq).Append(".\n")
            .Append("# Artists' opt-outs from AI training; merge into a robots.txt as docs/crawlers.md says.\n")
            .Append(note)
            .Append('\n');
        foreach (var crawler in AiCrawlers.All)
        {
            text.Append("User-agent: ").Append(crawler.Token).Append('\n');
        }

        foreach (var line in disallows)
        {
            // A path with * or $ (or a stray %) gets its exact form and a literal one that every parser matches (RobotsPath).
            AppendRule(text, "Disallow: ", line, PatternForm.Encoded);
            if (RobotsPath.HasTwoForms(line.Path))
            {
                AppendRule(text, "Disallow: ", line, PatternForm.Literal);
            }
        }

        // A group ends with a rule that every parser knows; without one, the next User-agent line
        // would join this group for parsers that skip Content-Usage.
        text.Append(disallows.Count > 0 ? "" : "Disallow:\n");
        AppendUsages(text, usages);
        text.Append("\nUser-agent: *\n");
        AppendUsages(text, usages);
        return text.ToString();
    }

    private static void AppendUsages(StringBuilder text, List<Line> usages)
    {
        foreach (var line in usages)
        {
            if (line.Usage != Decision.Unknown)
            {
                AppendUsage(text, line, line.Usage, PatternForm.Encoded);

                // Parsers that leave the URL as it is never match the exact form of a path with * or $
                // (or a stray %), and would take an ancestor's line, maybe a "y". The literal form may
                // match siblings too, so it carries this location's "n"s only.
                if (RobotsPath.HasTwoForms(line.Path) && ContentUsage.RefusalsOf(line.Usage) is var refusals && refusals != Decision.Unknown)
                {
                    AppendUsage(text, line, refusals, PatternForm.Literal);
                }
            }
        }
    }

    private static void AppendUsage(StringBuilder text, Line line, Decision usage, PatternForm form)
    {
        text.Append("Content-Usage: ");
        RobotsPath.Append(text, line.Path, line.Exact, form);
        text.Append(' ');
        ContentUsage.Append(text, usage);
        text.Append('\n');
    }

    private static void AppendRule(StringBuilder text, string directive, Line line, PatternForm form)
    {
        text.Append(directive);
        RobotsPath.Append(text, line.Path, line.Exact, form);
        text.Append('\n');
    }

    private readonly record struct Line(string Path, bool Exact, bool Disallow, Decision Usage);
}

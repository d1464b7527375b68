using System.Text;
using System.Text.Json;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Core.Policy;

/// <summary>
/// Renders a host's rules as a W3C TDMRep <c>/.well-known/tdmrep.json</c> array: one entry per
/// location where text and data mining resolves to reserved (1) or not reserved (0).
/// </summary>
/// <remarks>
/// TDMRep (W3C Community Group final report, https://www.w3.org/community/reports/tdmrep/CG-FINAL-tdmrep-20240510/,
/// "TDM File on the Origin Server" and its "Use of regular expressions") reads <c>location</c> as a robots.txt pattern: "<c>$</c>" designates the
/// end of the match pattern and "<c>*</c>" 0 or more instances of any character, special
/// characters matched verbatim are %-encoded, and "the most specific match is the first in
/// sequence". So an exact URL ends in <c>$</c> (without it, it would be a prefix), a prefix in
/// <c>*</c>, and entries come longest location first, an exact one before a prefix of the same
/// length, so that readers taking the first match get the most specific one (and of one location
/// written twice, the reserved entry). A reserved path holding <c>*</c>, <c>$</c> or a stray
/// <c>%</c> gets the literal form too (<see cref="RobotsPath.HasTwoForms"/>). Like
/// robots.txt, the file stays under <see cref="MaxBytes"/> by merging into shorter prefixes.
/// </remarks>
public static class TdmRep
{
    /// <summary>The size robots.txt parsers must read (RFC 9309 2.5); TDMRep sets none, so the same.</summary>
    public const int MaxBytes = 500 * 1024;

    public static byte[] Render(IReadOnlyList<PolicyRule> rules, int maxBytes = MaxBytes)
    {
        var bytes = Write(Entries(rules));
        if (bytes.Length <= maxBytes)
        {
            return bytes;
        }

        // Merged entries only reserve (disallow-only merging): an unreserved "0" never spreads to siblings.
        return PolicyMerge.DeepestFitting(PolicyMerge.Depth(rules), depth => Write(Merged(rules, depth)), b => b.Length <= maxBytes);
    }

    private static List<Entry> Entries(IReadOnlyList<PolicyRule> rules)
    {
        var entries = new List<Entry>();
        foreach (var rule in rules)
        {
            if (rule.Decision.Tdm != Permission.Unknown && (rule.Decision.Tdm != rule.Inherited.Tdm || rule.Kind == RuleKind.Host))
            {
                var reserved = rule.Decision.Tdm == Permission.Disallow;
                Add(entries, rule.Path, rule.Kind == RuleKind.Exact, reserved, reserved ? rule.TdmPolicy : null);
            }
        }

        return entries;
    }

    private static List<Entry> Merged(IReadOnlyList<PolicyRule> rules, int depth)
    {
        var entries = new List<Entry>();
        foreach (var location in PolicyMerge.Merge(rules, depth))
        {
            if (location.Decision.Tdm == Permission.Disallow && location.Inherited.Tdm != Permission.Disallow)
            {
                Add(entries, location.Path, false, true, null);
            }
        }

        return entries;
    }

    private static void Add(List<Entry> entries, string path, bool exact, bool reserved, string? policy)
    {
        entries.Add(new Entry(Location(path, exact, PatternForm.Encoded), exact, reserved, policy));
        if (reserved && RobotsPath.HasTwoForms(path))
        {
            entries.Add(new Entry(Location(path, exact, PatternForm.Literal), exact, reserved, policy));
        }
    }

    private static string Location(string path, bool exact, PatternForm form)
    {
        var location = new StringBuilder(path.Length + 8);
        RobotsPath.Append(location, path, exact, form);
        if (!exact && location[^1] != '*')
        {
            location.Append('*');
        }

        return location.ToString();
    }

    private static byte[] Write(List<Entry> entries)
    {
        entries.Sort(static (a, b) =>
            b.Location.Length != a.Location.Length ? b.Location.Length.CompareTo(a.Location.Length)
            : a.Exact != b.Exact ? (a.Exact ? -1 : 1)
            : string.CompareOrdinal(a.Location, b.Location) is var order and not 0 ? order
            : b.Reserved.CompareTo(a.Reserved)); // one location twice (a literal form, a consent's exact one): reserved first

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartArray();
            foreach (var entry in entries)
            {
                json.WriteStartObject();
                json.WriteString("location", entry.Location);
                json.WriteNumber("tdm-reservation", entry.Reserved ? 1 : 0);
                if (entry.Policy is not null)
                {
                    json.WriteString("tdm-policy", entry.Policy);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return buffer.ToArray();
    }

    private readonly record struct Entry(string Location, bool Exact, bool Reserved, string? Policy);
}

using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Policy;

namespace ConsentRegistry.Core.Tests.Policy;

internal static class PolicyTestClaims
{
    public static readonly Usage TrainAiNo = new Usage(Preference.Unset, Preference.No, Preference.Unset, Preference.Unset, Preference.Unset).WithHierarchyApplied();
    public static readonly Usage TrainAiYes = new Usage(Preference.Unset, Preference.Yes, Preference.Unset, Preference.Unset, Preference.Unset).WithHierarchyApplied();
    public static readonly Usage SearchYes = new(Preference.Unset, Preference.Unset, Preference.Unset, Preference.Unset, Preference.Yes);
    public static readonly Usage AllYes = new(Preference.Yes, Preference.Yes, Preference.Yes, Preference.Yes, Preference.Yes);

    private static long _seq;

    /// <summary>A claim of <paramref name="party"/> with subjects as (kind, canonical value); no canonicalizer in between, on purpose.</summary>
    public static PolicyClaim Claim(int party, Usage usage, params (string Kind, string Value)[] subjects) =>
        Claim(party, 1_800_000_000, usage, counted: true, subjects);

    /// <summary>As above; a host written "*.name" includes its subdomains.</summary>
    public static PolicyClaim Claim(int party, long iat, Usage usage, bool counted, params (string Kind, string Value)[] subjects) =>
        new(party, iat, Interlocked.Increment(ref _seq), usage, counted, null, subjects.Select(ToSubject).ToList());

    /// <summary>Each https url or url-prefix subject, and the same under http: a consent counts in a host's file only when it holds for both.</summary>
    public static (string Kind, string Value)[] BothSchemes(params (string Kind, string Value)[] subjects) =>
        subjects.SelectMany(s => s.Value.StartsWith("https://", StringComparison.Ordinal) ? new[] { s, (s.Kind, "http://" + s.Value["https://".Length..]) } : [s]).ToArray();

    private static Subject ToSubject((string Kind, string Value) s) =>
        s.Kind == SubjectKinds.Host && s.Value.StartsWith("*.", StringComparison.Ordinal)
            ? new Subject(s.Kind, s.Value[2..], IncludeSubdomains: true)
            : new Subject(s.Kind, s.Value);

    public static string Robots(string host, params PolicyClaim[] claims) =>
        System.Text.Encoding.UTF8.GetString(RobotsTxt.Render(host, 7, HostPolicy.Resolve(host, claims)));

    /// <summary>The file's lines of one directive; the Content-Usage lines of the <c>*</c> group (the AI crawlers' group repeats them).</summary>
    public static string[] Rules(string robots, string directive) =>
        (directive == "Content-Usage" ? robots[robots.IndexOf("User-agent: *", StringComparison.Ordinal)..] : robots)
            .Split('\n').Where(l => l.StartsWith(directive + ":", StringComparison.Ordinal)).ToArray();

    /// <summary>The lines of the AI crawlers' group, from its first User-agent line to the blank line that ends it.</summary>
    public static string[] AiGroup(string robots)
    {
        var start = robots.IndexOf("User-agent: ", StringComparison.Ordinal);
        return robots[start..robots.IndexOf("\n\n", start, StringComparison.Ordinal)].Split('\n');
    }
}

using System.Runtime.InteropServices;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Core.Policy;

/// <summary>Where a rule applies on its host: the whole host, every path under a prefix, or one exact path and query.</summary>
public enum RuleKind : byte
{
    Host,
    Prefix,
    Exact,
}

/// <summary>The schemes a subject applies to on its host: a host subject both, a URL its own.</summary>
[Flags]
public enum Schemes : byte
{
    Http = 1,
    Https = 2,
    Both = Http | Https,
}

/// <summary>
/// One location of a host's policy. <see cref="Decision"/> is what a URL at the location gets
/// when no longer location matches it; <see cref="Inherited"/> is what it would get without this
/// rule (the nearest shorter location's decision), so a renderer can leave out rules that change nothing.
/// </summary>
public readonly record struct PolicyRule(RuleKind Kind, string Path, Decision Decision, Decision Inherited, string? TdmPolicy);

/// <summary>A claim bearing on a host, as the policy documents need it.</summary>
/// <param name="CountsGrants">Its trust is at Registry:Trust:MinTrustForGrants or above, so its "y" counts.</param>
/// <param name="Policy">A licence or policy URL from the claim's terms, for TDMRep's <c>tdm-policy</c>.</param>
public sealed record PolicyClaim(int Party, long Iat, long Seq, Usage Usage, bool CountsGrants, string? Policy, IReadOnlyList<Subject> Subjects);

/// <summary>
/// Resolves a host's claims into rules per location with the lookup's rules (DESIGN.md 2): per
/// party and subject the latest iat wins; any "n" disallows; else a counted "y" allows. A URL
/// under several locations gets the combination of all of them, which is what the longest
/// matching location's <see cref="PolicyRule.Decision"/> holds.
/// </summary>
/// <remarks>
/// One file serves http and https URLs, so each location is resolved per scheme, as a lookup of
/// the http URL and of the https URL would be, and then combined: "n" under either scheme
/// disallows, "y" allows only when both schemes allow (<see cref="AcrossSchemes"/>). A url-prefix
/// of "/" is the same location as the host. <c>tdm-policy</c> is the policy URL of the latest
/// claim (by seq) that reserves tdm at the location, so that every render at one ETag agrees.
/// </remarks>
public static class HostPolicy
{
    public static List<PolicyRule> Resolve(string host, IReadOnlyList<PolicyClaim> claims)
    {
        // Latest claim per party and subject.
        var latest = new Dictionary<(string Subject, int Party), (PolicyClaim Claim, RuleKind Kind, string Path, Schemes Schemes)>();
        foreach (var claim in claims)
        {
            foreach (var subject in claim.Subjects)
            {
                if (!TryLocate(host, subject, out var kind, out var path, out var schemes))
                {
                    continue;
                }

                ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(latest, (subject.Kind + " " + subject.Value, claim.Party), out var exists);
                if (!exists || (claim.Iat, claim.Seq).CompareTo((slot.Claim.Iat, slot.Claim.Seq)) > 0)
                {
                    slot = (claim, kind, path, schemes);
                }
            }
        }

        // What each location says on its own, per scheme.
        var locations = new Dictionary<(RuleKind Kind, string Path), Scope>();
        foreach (var (claim, kind, path, schemes) in latest.Values)
        {
            ref var location = ref CollectionsMarshal.GetValueRefOrAddDefault(locations, (kind, path), out _);
            var decision = DecisionOf(claim);
            location.Https = schemes.HasFlag(Schemes.Https) ? ContentUsage.Combine(location.Https, decision) : location.Https;
            location.Http = schemes.HasFlag(Schemes.Http) ? ContentUsage.Combine(location.Http, decision) : location.Http;
            if (claim.Usage.Tdm == Preference.No && IsHttpUrl(claim.Policy) && claim.Seq > location.PolicySeq)
            {
                (location.Policy, location.PolicySeq) = (claim.Policy, claim.Seq);
            }
        }

        var ordered = locations.OrderBy(l => l.Key.Kind == RuleKind.Host ? 0 : 1)
            .ThenBy(l => l.Key.Path, StringComparer.Ordinal)
            .ThenBy(l => l.Key.Kind)
            .ToList();

        // Sorted by path, a location's shorter locations come before it and form a stack.
        var rules = new List<PolicyRule>(ordered.Count);
        var prefixes = new Stack<(string Path, Scope Scope)>();
        var hostWide = default(Scope);
        foreach (var ((kind, path), own) in ordered)
        {
            if (kind == RuleKind.Host)
            {
                hostWide = own;
                rules.Add(new PolicyRule(kind, path, AcrossSchemes(own.Https, own.Http), Decision.Unknown, own.Policy));
                continue;
            }

            while (prefixes.Count > 0 && !path.StartsWith(prefixes.Peek().Path, StringComparison.Ordinal))
            {
                prefixes.Pop();
            }

            var parent = prefixes.Count > 0 ? prefixes.Peek().Scope : hostWide;
            var scope = new Scope
            {
                Https = ContentUsage.Combine(parent.Https, own.Https),
                Http = ContentUsage.Combine(parent.Http, own.Http),
                Policy = own.Policy ?? parent.Policy,
            };
            rules.Add(new PolicyRule(kind, path, AcrossSchemes(scope.Https, scope.Http), AcrossSchemes(parent.Https, parent.Http), scope.Policy));
            if (kind == RuleKind.Prefix)
            {
                prefixes.Push((path, scope));
            }
        }

        return rules;
    }

    /// <summary>Where <paramref name="subject"/> applies on <paramref name="host"/>, if it does, and for which schemes.</summary>
    public static bool TryLocate(string host, Subject subject, out RuleKind kind, out string path, out Schemes schemes)
    {
        kind = RuleKind.Host;
        path = "/";
        schemes = Schemes.Both;
        if (!IsOnHost(host, subject.Kind, subject.Value, subject.IncludeSubdomains))
        {
            return false;
        }

        if (subject.Kind is SubjectKinds.Url or SubjectKinds.UrlPrefix)
        {
            path = subject.Value[CanonicalParts.PathStart(subject.Value)..];
            kind = subject.Kind == SubjectKinds.Url ? RuleKind.Exact : path == "/" ? RuleKind.Host : RuleKind.Prefix;
            schemes = CanonicalParts.IsHttps(subject.Value) ? Schemes.Https : Schemes.Http;
        }

        return true;
    }

    /// <summary>
    /// Whether a subject (its canonical kind and value) speaks for <paramref name="host"/>: the host
    /// itself or a parent that includes its subdomains, or a URL or URL prefix on the host without a
    /// port (a port makes another origin). Allocates nothing, for renders that read subjects as text.
    /// </summary>
    public static bool IsOnHost(string host, string kind, ReadOnlySpan<char> value, bool includeSubdomains) => kind switch
    {
        SubjectKinds.Host => value.SequenceEqual(host)
            || (includeSubdomains && host.Length > value.Length + 1
                && host.AsSpan().EndsWith(value, StringComparison.Ordinal) && host[^(value.Length + 1)] == '.'),
        SubjectKinds.Url or SubjectKinds.UrlPrefix => CanonicalParts.HostWithoutPort(value).SequenceEqual(host),
        _ => false,
    };

    /// <summary>Per category, what holds for both schemes: "n" under either disallows; "y" allows only under both.</summary>
    public static Decision AcrossSchemes(Decision https, Decision http)
    {
        Span<Permission> permissions = stackalloc Permission[UseCategories.All.Count];
        for (var category = 0; category < permissions.Length; category++)
        {
            permissions[category] = (https[category], http[category]) switch
            {
                (Permission.Disallow, _) or (_, Permission.Disallow) => Permission.Disallow,
                (Permission.Allow, Permission.Allow) => Permission.Allow,
                _ => Permission.Unknown,
            };
        }

        return Decision.From(permissions);
    }

    private static Decision DecisionOf(PolicyClaim claim)
    {
        Span<Permission> permissions = stackalloc Permission[UseCategories.All.Count];
        for (var category = 0; category < permissions.Length; category++)
        {
            permissions[category] = claim.Usage[category] switch
            {
                Preference.No => Permission.Disallow,
                Preference.Yes when claim.CountsGrants => Permission.Allow,
                _ => Permission.Unknown,
            };
        }

        return Decision.From(permissions);
    }

    private static bool IsHttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);

    private record struct Scope(Decision Https, Decision Http, string? Policy, long PolicySeq);
}

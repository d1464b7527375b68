namespace ConsentRegistry.Core.Urls;

/// <summary>
/// A URL in the registry's canonical form (DESIGN.md section 6): <c>scheme://host[:port]/path[?query]</c>.
/// The offsets let the matching index and the policy endpoints take the host or the path
/// without parsing again.
/// </summary>
public readonly record struct CanonicalUrl(string Value, int HostStart, int HostLength, int PathStart)
{
    public ReadOnlySpan<char> Host => Value.AsSpan(HostStart, HostLength);

    /// <summary>Path and query, always starting with '/'.</summary>
    public ReadOnlySpan<char> PathAndQuery => Value.AsSpan(PathStart);

    public bool IsHttps => Value.StartsWith("https:", StringComparison.Ordinal);

    public override string ToString() => Value;
}

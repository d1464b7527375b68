namespace ConsentRegistry.Core.Urls;

/// <summary>
/// Reads the parts of a canonical URL (scheme "://" authority path, as <see cref="UrlCanonicalizer"/>
/// writes it) and of a canonical host, for the matching index and the crawler policy resolver.
/// </summary>
public static class CanonicalParts
{
    /// <summary>Where the path starts: the first '/' after "//".</summary>
    public static int PathStart(ReadOnlySpan<char> url)
    {
        var authority = url.IndexOf("//", StringComparison.Ordinal) + 2;
        return authority + url[authority..].IndexOf('/');
    }

    /// <summary>The host of <paramref name="url"/>; empty when the URL names a port, which makes it another origin than the bare host.</summary>
    public static ReadOnlySpan<char> HostWithoutPort(ReadOnlySpan<char> url)
    {
        var start = url.IndexOf("//", StringComparison.Ordinal) + 2;
        var authority = url[start..PathStart(url)];
        var colon = authority.LastIndexOf(':');
        return colon >= 0 && colon > authority.LastIndexOf(']') ? default : authority;
    }

    public static bool IsHttps(ReadOnlySpan<char> url) => url.StartsWith("https:", StringComparison.Ordinal);

    /// <summary>
    /// Whether canonical <paramref name="host"/> has parent domains: a name does (<c>shop.example1</c>
    /// included), an IP address does not. Canonical IPv4 is four decimal numbers: a host whose last
    /// label is a number is parsed as IPv4 (WHATWG), so no domain is made of digits and dots only.
    /// </summary>
    public static bool HasParentDomains(ReadOnlySpan<char> host) => host.Length > 0 && host[0] != '[' && host.ContainsAnyExcept(DigitsAndDots);

    private static readonly System.Buffers.SearchValues<char> DigitsAndDots = System.Buffers.SearchValues.Create("0123456789.");
}

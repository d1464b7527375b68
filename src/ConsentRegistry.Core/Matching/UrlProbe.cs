using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// A canonical URL with the fingerprints its lookup starts from (the URL's, its authority's, its
/// host's and its first parent domain's), computed once: a run of lookups asks for the index's
/// cache lines ahead of each lookup (<see cref="MatchingIndex.PrefetchAhead"/>) without hashing
/// the URL again. The default value stands for an item without a URL.
/// </summary>
public readonly struct UrlProbe
{
    public UrlProbe(in CanonicalUrl url)
    {
        Url = url;
        UrlKey = Fingerprint.Of(url.Value);
        AuthorityKey = Fingerprint.Of(url.Value.AsSpan(0, url.PathStart));
        var host = url.Host;
        HostKey = Fingerprint.Of(host);
        if (CanonicalParts.HasParentDomains(host) && host.IndexOf('.') is var dot and >= 0)
        {
            HasParentDomain = true;
            ParentKey = Fingerprint.Of(host[(dot + 1)..]);
        }
    }

    public CanonicalUrl Url { get; }

    /// <summary>True for the default value: no URL to look up.</summary>
    public bool IsEmpty => Url.Value is null;

    internal UInt128 UrlKey { get; }

    /// <summary>The fingerprint of <c>scheme://host[:port]</c>: where the URL prefixes registered under it are found.</summary>
    internal UInt128 AuthorityKey { get; }

    internal UInt128 HostKey { get; }

    /// <summary>Whether the host has a parent domain (a name with a dot, not an IP address).</summary>
    internal bool HasParentDomain { get; }

    /// <summary>The fingerprint of the host's first parent domain (<c>b.c</c> of <c>a.b.c</c>).</summary>
    internal UInt128 ParentKey { get; }
}

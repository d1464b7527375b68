using System.Diagnostics.CodeAnalysis;

namespace ConsentRegistry.Core.Urls;

/// <summary>
/// Canonical form of a bare host: for <c>host</c> subjects and the <c>{host}</c> route parameter.
/// The result is what <see cref="UrlCanonicalizer"/> makes of the same host inside a URL:
/// lowercase, IDNA to punycode, IPv4 in dotted decimal, IPv6 compressed in brackets, no trailing
/// dot. As in a URL, the host is percent-decoded before IDNA.
/// </summary>
public static class HostCanonicalizer
{
    /// <summary>
    /// Accepts a host name or IP literal ("Example.COM", "example.com.", "bücher.example", "[::1]",
    /// "127.0.0.1"); refuses anything with a scheme, port, path, query, fragment, userinfo,
    /// whitespace, or an empty or invalid host.
    /// </summary>
    public static bool TryCanonicalize(ReadOnlySpan<char> input, [NotNullWhen(true)] out string? host, [NotNullWhen(false)] out string? error)
    {
        host = null;
        if (input.IsEmpty)
        {
            error = "empty host";
            return false;
        }

        if (input.Length > UrlCanonicalizer.MaxLength)
        {
            error = UrlCanonicalizer.TooLong;
            return false;
        }

        bool literal = input[0] == '[';
        foreach (char c in input)
        {
            if (c <= ' ' || c == '\u007F' || char.IsWhiteSpace(c))
            {
                error = "whitespace or control character in host";
                return false;
            }

            if (c is '/' or '\\' or '?' or '#' or '@' || (c == ':' && !literal))
            {
                error = "not a bare host name (scheme, port, path, query, fragment or userinfo)";
                return false;
            }
        }

        if (literal && input[^1] != ']')
        {
            error = "not a bare host name (scheme, port, path, query, fragment or userinfo)";
            return false;
        }

        var output = new ValueBuffer<char>(stackalloc char[256]);
        try
        {
            if (!HostParser.TryParse(input, ref output, out error))
            {
                return false;
            }

            host = new string(output.Span);
            return true;
        }
        finally
        {
            output.Dispose();
        }
    }
}

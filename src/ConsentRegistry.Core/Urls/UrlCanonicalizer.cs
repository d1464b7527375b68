using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace ConsentRegistry.Core.Urls;

/// <summary>
/// Turns a URL into the registry's canonical form (DESIGN.md section 6):
/// <c>scheme://host[:port]/path[?query]</c>.
/// </summary>
/// <remarks>
/// <para>The URL is parsed as the WHATWG URL standard's basic URL parser does (no base URL, special
/// schemes only): leading and trailing C0 controls and spaces are stripped, tabs and newlines
/// removed anywhere, '\' is '/', any number of slashes may follow the scheme, userinfo is parsed
/// and then dropped, the host goes through the host parser (percent-decoding, IDNA UTS #46
/// ToASCII, IPv4 number forms, IPv6), default ports are dropped, the path is percent-encoded with
/// the path percent-encode set and its dot segments ("." ".." and their %2e forms) resolved, the
/// query is percent-encoded with the special-query percent-encode set, and the fragment dropped.
/// Only http and https are accepted.</para>
/// <para>Registry rules on top: the host is lowercase without its trailing dot (a host ending in
/// two dots, or only dots, is refused); an empty path is "/"; in path and query every
/// percent-escape has upper-case hex digits and escapes of unreserved characters (RFC 3986:
/// ALPHA DIGIT - . _ ~) are decoded, except where decoding a hex digit would make a stray '%'
/// before it into a new escape (that escape stays encoded, so that the canonical form
/// canonicalizes to itself); a '%' that does not start an escape stays as it is. The WHATWG href
/// keeps a '?' with an empty query; the canonical form drops an empty query, so that
/// "http://a/x?" and "http://a/x" are the same resource.</para>
/// </remarks>
public static class UrlCanonicalizer
{
    /// <summary>Input longer than this (in UTF-16 chars) is refused.</summary>
    public const int MaxLength = 8192;

    internal const string NotHttpUrl = "not an absolute http or https URL";
    internal const string InvalidPort = "invalid port";
    internal const string TooLong = "longer than 8192 characters";

    private static readonly SearchValues<char> TabOrNewline = SearchValues.Create("\t\n\r");
    private static readonly SearchValues<char> AuthorityEnd = SearchValues.Create("/\\?#");

    // Characters that pass through a path segment or a query unchanged, in bulk.
    private static readonly SearchValues<char> PathPlain = SearchValues.Create(
        "!$&'()*+,-.0123456789:;=@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz|~");
    private static readonly SearchValues<char> QueryPlain = SearchValues.Create(
        "!$&()*+,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    // Fast path: characters of an already-canonical host.
    private static readonly SearchValues<char> CanonicalHostChars = SearchValues.Create(
        "-._0123456789abcdefghijklmnopqrstuvwxyz");

    /// <summary>
    /// Canonicalizes <paramref name="input"/>; on failure returns false and a short English
    /// reason in <paramref name="error"/>.
    /// </summary>
    public static bool TryCanonicalize(ReadOnlySpan<char> input, out CanonicalUrl url, [NotNullWhen(false)] out string? error)
    {
        if (input.Length > MaxLength)
        {
            url = default;
            error = TooLong;
            return false;
        }

        if (TryCanonicalizeFast(input, out url))
        {
            error = null;
            return true;
        }

        return TryCanonicalizeFull(input, out url, out error);
    }

    /// <summary>The full parser, without the fast path (tests compare the two).</summary>
    internal static bool TryCanonicalizeFull(ReadOnlySpan<char> input, out CanonicalUrl url, [NotNullWhen(false)] out string? error)
    {
        url = default;
        if (input.Length > MaxLength)
        {
            error = TooLong;
            return false;
        }

        int start = 0;
        int end = input.Length;
        while (start < end && input[start] <= ' ')
        {
            start++;
        }

        while (end > start && input[end - 1] <= ' ')
        {
            end--;
        }

        scoped ReadOnlySpan<char> text = input[start..end];
        var cleaned = new ValueBuffer<char>(default);
        var output = new ValueBuffer<char>(stackalloc char[512]);
        try
        {
            if (text.ContainsAny(TabOrNewline))
            {
                foreach (char c in text)
                {
                    if (c is not ('\t' or '\n' or '\r'))
                    {
                        cleaned.Append(c);
                    }
                }

                text = cleaned.Span;
            }

            if (!TryParse(text, ref output, out int hostStart, out int hostLength, out int pathStart, out error))
            {
                return false;
            }

            url = new CanonicalUrl(new string(output.Span), hostStart, hostLength, pathStart);
            return true;
        }
        finally
        {
            cleaned.Dispose();
            output.Dispose();
        }
    }

    private static bool TryParse(
        scoped ReadOnlySpan<char> input,
        ref ValueBuffer<char> output,
        out int hostStart,
        out int hostLength,
        out int pathStart,
        [NotNullWhen(false)] out string? error)
    {
        hostStart = hostLength = pathStart = 0;

        // Scheme: ASCII alpha, then alphanumerics, '+', '-', '.', up to ':'.
        int colon = -1;
        if (!input.IsEmpty && char.IsAsciiLetter(input[0]))
        {
            for (int i = 1; i < input.Length; i++)
            {
                char c = input[i];
                if (c == ':')
                {
                    colon = i;
                    break;
                }

                if (!char.IsAsciiLetterOrDigit(c) && c is not ('+' or '-' or '.'))
                {
                    break;
                }
            }
        }

        bool https;
        if (colon == 5 && input[..5].Equals("https", StringComparison.OrdinalIgnoreCase))
        {
            https = true;
        }
        else if (colon == 4 && input[..4].Equals("http", StringComparison.OrdinalIgnoreCase))
        {
            https = false;
        }
        else
        {
            error = NotHttpUrl;
            return false;
        }

        output.Append(https ? "https://" : "http://");

        // Special authority (ignore) slashes: any number of '/' or '\', even none.
        int p = colon + 1;
        while (p < input.Length && input[p] is '/' or '\\')
        {
            p++;
        }

        // Authority: up to '/', '\', '?', '#'. The host starts after the last '@'.
        int authorityEnd = input[p..].IndexOfAny(AuthorityEnd);
        authorityEnd = authorityEnd < 0 ? input.Length : p + authorityEnd;
        ReadOnlySpan<char> hostAndPort = input[p..authorityEnd];
        hostAndPort = hostAndPort[(hostAndPort.LastIndexOf('@') + 1)..];

        int hostEnd = hostAndPort.Length;
        bool insideBrackets = false;
        for (int i = 0; i < hostAndPort.Length; i++)
        {
            char c = hostAndPort[i];
            if (c == '[')
            {
                insideBrackets = true;
            }
            else if (c == ']')
            {
                insideBrackets = false;
            }
            else if (c == ':' && !insideBrackets)
            {
                hostEnd = i;
                break;
            }
        }

        ReadOnlySpan<char> host = hostAndPort[..hostEnd];
        if (host.IsEmpty)
        {
            error = HostParser.InvalidHost;
            return false;
        }

        hostStart = output.Length;
        if (!HostParser.TryParse(host, ref output, out error))
        {
            return false;
        }

        hostLength = output.Length - hostStart;

        if (hostEnd < hostAndPort.Length)
        {
            ReadOnlySpan<char> portText = hostAndPort[(hostEnd + 1)..];
            if (!portText.IsEmpty)
            {
                uint port = 0;
                foreach (char c in portText)
                {
                    if (!char.IsAsciiDigit(c))
                    {
                        error = InvalidPort;
                        return false;
                    }

                    port = Math.Min((port * 10) + (uint)(c - '0'), 100_000);
                }

                if (port > 65535)
                {
                    error = InvalidPort;
                    return false;
                }

                if (port != (https ? 443u : 80u))
                {
                    output.Append(':');
                    HostParser.AppendDecimal(port, ref output);
                }
            }
        }

        // Path: segments separated by '/' or '\', dot segments resolved as they complete.
        pathStart = output.Length;
        p = authorityEnd;
        if (p < input.Length && input[p] is '/' or '\\')
        {
            p++;
        }

        while (true)
        {
            output.Append('/');
            int segmentStart = output.Length;
            int segmentEnd = input[p..].IndexOfAny(AuthorityEnd);
            segmentEnd = segmentEnd < 0 ? input.Length : p + segmentEnd;
            AppendEncoded(input[p..segmentEnd], PathPlain, query: false, ref output);
            p = segmentEnd;
            bool moreSegments = p < input.Length && input[p] is '/' or '\\';

            // Escapes of unreserved characters are decoded already, so "%2e" is "." here.
            ReadOnlySpan<char> segment = output.Span[segmentStart..];
            if (segment is "..")
            {
                output.Length = segmentStart - 1;
                int previous = output.Span[pathStart..].LastIndexOf('/');
                if (previous >= 0)
                {
                    output.Length = pathStart + previous;
                }

                if (!moreSegments)
                {
                    output.Append('/');
                }
            }
            else if (segment is ".")
            {
                output.Length = segmentStart - 1;
                if (!moreSegments)
                {
                    output.Append('/');
                }
            }

            if (!moreSegments)
            {
                break;
            }

            p++;
        }

        // Query up to '#'; an empty one is dropped. The fragment is dropped.
        if (p < input.Length && input[p] == '?')
        {
            p++;
            int queryEnd = input[p..].IndexOf('#');
            queryEnd = queryEnd < 0 ? input.Length : p + queryEnd;
            if (queryEnd > p)
            {
                output.Append('?');
                AppendEncoded(input[p..queryEnd], QueryPlain, query: true, ref output);
            }
        }

        error = null;
        return true;
    }

    // Percent-encodes what the path (or special-query) percent-encode set says, as UTF-8 with
    // upper-case hex; normalizes existing escapes (upper-case hex, unreserved decoded).
    private static void AppendEncoded(scoped ReadOnlySpan<char> text, SearchValues<char> plain, bool query, ref ValueBuffer<char> output)
    {
        int lastStray = -1;
        int i = 0;
        while (i < text.Length)
        {
            int run = text[i..].IndexOfAnyExcept(plain);
            if (run < 0)
            {
                output.Append(text[i..]);
                return;
            }

            output.Append(text.Slice(i, run));
            i += run;
            char c = text[i];
            if (c == '%')
            {
                if (i + 2 < text.Length && HostParser.IsHex(text[i + 1]) && HostParser.IsHex(text[i + 2]))
                {
                    int b = (HostParser.HexValue(text[i + 1]) << 4) | HostParser.HexValue(text[i + 2]);
                    if (IsUnreserved(b) && !(char.IsAsciiHexDigit((char)b) && RevivesStrayPercent(ref output, lastStray)))
                    {
                        output.Append((char)b);
                    }
                    else
                    {
                        AppendEscape(b, ref output);
                    }

                    i += 3;
                }
                else
                {
                    lastStray = output.Length;
                    output.Append('%');
                    i++;
                }
            }
            else if (c < 0x80)
            {
                // Not plain: in the percent-encode set (the plain sets hold every other printable character).
                if (query ? IsSpecialQueryEncoded(c) : IsPathEncoded(c))
                {
                    AppendEscape(c, ref output);
                }
                else
                {
                    output.Append(c);
                }

                i++;
            }
            else
            {
                int cp = c;
                if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    cp = char.ConvertToUtf32(c, text[i + 1]);
                    i++;
                }
                else if (char.IsSurrogate(c))
                {
                    cp = 0xFFFD;
                }

                AppendUtf8Escaped(cp, ref output);
                i++;
            }
        }
    }

    // A stray '%' directly before, or before one hex digit before, the decoded hex digit would
    // turn into an escape when the canonical form is parsed again.
    private static bool RevivesStrayPercent(ref ValueBuffer<char> output, int lastStray)
    {
        int length = output.Length;
        return lastStray >= 0
            && (lastStray == length - 1 || (lastStray == length - 2 && char.IsAsciiHexDigit(output[length - 1])));
    }

    private static bool IsUnreserved(int b) =>
        char.IsAsciiLetterOrDigit((char)b) || b is '-' or '.' or '_' or '~';

    private static bool IsPathEncoded(char c) =>
        c <= ' ' || c >= '\u007F' || c is '"' or '#' or '<' or '>' or '?' or '`' or '{' or '}';

    private static bool IsSpecialQueryEncoded(char c) =>
        c <= ' ' || c >= '\u007F' || c is '"' or '#' or '<' or '>' or '\'';

    private static void AppendUtf8Escaped(int cp, ref ValueBuffer<char> output)
    {
        if (cp < 0x800)
        {
            AppendEscape(0xC0 | (cp >> 6), ref output);
        }
        else
        {
            if (cp < 0x10000)
            {
                AppendEscape(0xE0 | (cp >> 12), ref output);
            }
            else
            {
                AppendEscape(0xF0 | (cp >> 18), ref output);
                AppendEscape(0x80 | ((cp >> 12) & 0x3F), ref output);
            }

            AppendEscape(0x80 | ((cp >> 6) & 0x3F), ref output);
        }

        AppendEscape(0x80 | (cp & 0x3F), ref output);
    }

    private static void AppendEscape(int b, ref ValueBuffer<char> output)
    {
        output.Append('%');
        output.Append(UpperHex(b >> 4));
        output.Append(UpperHex(b & 0xF));
    }

    private static char UpperHex(int nibble) => (char)(nibble < 10 ? '0' + nibble : 'A' + nibble - 10);

    // ---- Fast path --------------------------------------------------------------------------

    /// <summary>
    /// Accepts input that is already in canonical form with nothing to change (lowercase scheme
    /// and ASCII host, no default port, no dot segments, no character to encode, only escapes with
    /// upper-case hex of reserved or non-ASCII bytes): the result is the input itself.
    /// Anything else goes to the full parser.
    /// </summary>
    internal static bool TryCanonicalizeFast(ReadOnlySpan<char> input, out CanonicalUrl url)
    {
        url = default;
        int p;
        bool https;
        if (input.StartsWith("https://", StringComparison.Ordinal))
        {
            https = true;
            p = 8;
        }
        else if (input.StartsWith("http://", StringComparison.Ordinal))
        {
            https = false;
            p = 7;
        }
        else
        {
            return false;
        }

        int hostStart = p;
        int hostEnd = input[p..].IndexOfAnyExcept(CanonicalHostChars);
        if (hostEnd <= 0)
        {
            return false; // empty host, or nothing after the host (the path "/" is missing)
        }

        hostEnd += p;
        ReadOnlySpan<char> host = input[hostStart..hostEnd];
        char lastLabelStart = host[(host.LastIndexOf('.') + 1)..] is { IsEmpty: false } lastLabel ? lastLabel[0] : '.';
        if (!char.IsAsciiLetterLower(lastLabelStart) && lastLabelStart is not ('-' or '_'))
        {
            return false; // trailing dot, or a last label that may be a number (IPv4)
        }

        p = hostEnd;
        if (input[p] == ':')
        {
            int digits = input[(p + 1)..].IndexOfAnyExceptInRange('0', '9');
            if (digits <= 0 || digits > 5 || input[p + 1] == '0')
            {
                return false;
            }

            int port = int.Parse(input.Slice(p + 1, digits), provider: System.Globalization.CultureInfo.InvariantCulture);
            if (port > 65535 || port == (https ? 443 : 80))
            {
                return false;
            }

            p += 1 + digits;
        }

        if (input[p] != '/')
        {
            return false;
        }

        int pathStart = p;
        int segmentStart = p + 1;
        int i = segmentStart;
        while (true)
        {
            int run = input[i..].IndexOfAnyExcept(PathPlain);
            i = run < 0 ? input.Length : i + run;
            if (i == input.Length || input[i] is '/' or '?')
            {
                if (input[segmentStart..i] is "." or "..")
                {
                    return false;
                }

                if (i == input.Length)
                {
                    break;
                }

                if (input[i] == '?')
                {
                    if (!IsCanonicalQuery(input[(i + 1)..]))
                    {
                        return false;
                    }

                    break;
                }

                segmentStart = ++i;
                continue;
            }

            if (!IsCanonicalEscape(input, i))
            {
                return false;
            }

            i += 3;
        }

        url = new CanonicalUrl(input.ToString(), hostStart, hostEnd - hostStart, pathStart);
        return true;
    }

    private static bool IsCanonicalQuery(ReadOnlySpan<char> query)
    {
        if (query.IsEmpty)
        {
            return false;
        }

        int i = 0;
        while (true)
        {
            int run = query[i..].IndexOfAnyExcept(QueryPlain);
            if (run < 0)
            {
                return true;
            }

            i += run;
            if (!IsCanonicalEscape(query, i))
            {
                return false;
            }

            i += 3;
        }
    }

    // "%XY" with upper-case hex digits, of a byte that is not an unreserved character.
    private static bool IsCanonicalEscape(ReadOnlySpan<char> text, int i)
    {
        if (text[i] != '%' || i + 2 >= text.Length)
        {
            return false;
        }

        char h = text[i + 1];
        char l = text[i + 2];
        if (!(char.IsAsciiDigit(h) || h is >= 'A' and <= 'F') || !(char.IsAsciiDigit(l) || l is >= 'A' and <= 'F'))
        {
            return false;
        }

        return !IsUnreserved((HostParser.HexValue(h) << 4) | HostParser.HexValue(l));
    }
}

using System.Text;

namespace ConsentRegistry.Core.Policy;

/// <summary>
/// Writes a canonical path (and query) as a robots.txt or TDMRep path pattern. Only what would break
/// the line or change its meaning is percent-encoded (UTF-8, upper-case hex): controls, whitespace,
/// <c>#</c>, non-ASCII, and (in the exact form) a <c>%</c> that does not start an escape. Other ASCII punctuation stays as
/// it is, because crawlers compare the URL as the page wrote it: Google's robotstxt and the npm
/// robots-parser do not percent-encode <c>*</c>, <c>$</c>, <c>[</c> … in it, so <c>%2A</c> in a rule
/// would never match a <c>*</c> in a URL.
/// </summary>
/// <remarks>
/// <c>*</c> and <c>$</c> are the pattern's own wildcard and end anchor, so a path holding them (or a
/// <c>%</c> that starts no escape: <c>%25</c> in the exact form, as it is in the literal one) has two
/// forms: <see cref="PatternForm.Encoded"/> (<c>%2A</c>, <c>%24</c>: the literal match RFC 9309 2.2.3
/// and TDMRep describe, exact but missed by parsers that leave the URL as it is) and
/// <see cref="PatternForm.Literal"/> (<c>*</c> as a wildcard also matches itself; <c>$</c> inside a
/// pattern is a plain character; a trailing <c>$</c> gets a <c>*</c> after it so that it is no end
/// anchor): it matches the URL in every parser and some sibling URLs as well. Disallowing entries
/// use both; see docs/crawlers.md.
/// </remarks>
public static class RobotsPath
{
    /// <summary>
    /// Whether <paramref name="path"/> is written differently in the two <see cref="PatternForm"/>s: it
    /// holds <c>*</c>, <c>$</c>, or a <c>%</c> that starts no escape (<c>%25</c> in the exact form, which
    /// parsers that decode only what they must, such as npm's robots-parser, never match to the URL's <c>%</c>).
    /// </summary>
    public static bool HasTwoForms(ReadOnlySpan<char> path)
    {
        if (path.IndexOfAny('*', '$') >= 0)
        {
            return true;
        }

        for (var i = 0; i < path.Length; i++)
        {
            if (path[i] == '%' && !IsEscape(path, i))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Appends <paramref name="path"/> in <paramref name="form"/>, ending in <c>$</c> when <paramref name="exact"/>.</summary>
    public static void Append(StringBuilder text, ReadOnlySpan<char> path, bool exact, PatternForm form)
    {
        Append(text, path, form);
        if (exact)
        {
            text.Append('$');
        }
        else if (form == PatternForm.Literal && path.EndsWith('$'))
        {
            text.Append('*');
        }
    }

    public static void Append(StringBuilder text, ReadOnlySpan<char> path, PatternForm form = PatternForm.Encoded)
    {
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            if (c is > ' ' and < '\x7F' and not '#' and not '%' && (form == PatternForm.Literal || c is not ('*' or '$')))
            {
                text.Append(c);
                continue;
            }

            if (c == '%' && (form == PatternForm.Literal || IsEscape(path, i)))
            {
                text.Append(c);
                continue;
            }

            int length;
            if (char.IsHighSurrogate(c) && i + 1 < path.Length && char.IsLowSurrogate(path[i + 1]))
            {
                length = new Rune(c, path[++i]).EncodeToUtf8(utf8);
            }
            else
            {
                length = (Rune.TryCreate(c, out var rune) ? rune : Rune.ReplacementChar).EncodeToUtf8(utf8);
            }

            foreach (var b in utf8[..length])
            {
                text.Append('%').Append(HexDigit(b >> 4)).Append(HexDigit(b & 0xF));
            }
        }
    }

    public static string Encode(ReadOnlySpan<char> path, bool exact = false, PatternForm form = PatternForm.Encoded)
    {
        var text = new StringBuilder(path.Length + 8);
        Append(text, path, exact, form);
        return text.ToString();
    }

    private static bool IsEscape(ReadOnlySpan<char> path, int at) =>
        at + 2 < path.Length && char.IsAsciiHexDigit(path[at + 1]) && char.IsAsciiHexDigit(path[at + 2]);

    private static char HexDigit(int value) => (char)(value < 10 ? '0' + value : 'A' + value - 10);
}

/// <summary>How <see cref="RobotsPath"/> writes <c>*</c> and <c>$</c> of a path.</summary>
public enum PatternForm : byte
{
    /// <summary><c>%2A</c> and <c>%24</c>: matches exactly, for parsers that percent-encode the URL.</summary>
    Encoded,

    /// <summary>As they are (a stray <c>%</c> too): matches in every parser, and may match sibling URLs too.</summary>
    Literal,
}

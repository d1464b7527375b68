using System.Text;
using System.Text.Json;

namespace ConsentRegistry.Core.Tests.Urls;

/// <summary>The WHATWG URL test data in <c>tests/testdata/url/</c> (see its README.md).</summary>
internal static class UrlTestData
{
    public static string UrlTestDataPath => RepositoryPaths.TestDataFile("url", "urltestdata.json");

    public static string ToAsciiPath => RepositoryPaths.TestDataFile("url", "toascii.json");

    public static JsonDocument Load(string path) => JsonDocument.Parse(File.ReadAllText(path, Encoding.UTF8));

    /// <summary>JSON-escaped, so that control characters and lone surrogates show in messages.</summary>
    public static string Show(string? s) => s is null ? "null" : JsonSerializer.Serialize(s);

    /// <summary>
    /// The registry's rules for path and query, written independently of the canonicalizer:
    /// upper-case hex in escapes, escapes of unreserved characters decoded (unless the decoded hex
    /// digit would make a preceding stray '%' into an escape), a '%' that starts no escape kept.
    /// </summary>
    public static string NormalizePercentEscapes(string s)
    {
        var sb = new StringBuilder(s.Length);
        int stray = -1;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c != '%')
            {
                sb.Append(c);
                continue;
            }

            if (i + 2 < s.Length && Uri.IsHexDigit(s[i + 1]) && Uri.IsHexDigit(s[i + 2]))
            {
                char decoded = (char)Convert.ToByte(s.Substring(i + 1, 2), 16);
                bool unreserved = char.IsAsciiLetterOrDigit(decoded) || decoded is '-' or '.' or '_' or '~';
                bool revives = Uri.IsHexDigit(decoded)
                    && stray >= 0
                    && (stray == sb.Length - 1 || (stray == sb.Length - 2 && Uri.IsHexDigit(sb[^1])));
                if (unreserved && !revives)
                {
                    sb.Append(decoded);
                }
                else
                {
                    sb.Append('%').Append(char.ToUpperInvariant(s[i + 1])).Append(char.ToUpperInvariant(s[i + 2]));
                }

                i += 2;
            }
            else
            {
                stray = sb.Length;
                sb.Append('%');
            }
        }

        return sb.ToString();
    }
}

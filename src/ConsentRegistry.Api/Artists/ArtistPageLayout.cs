using System.Net;
using System.Text;

namespace ConsentRegistry.Api.Artists;

/// <summary>
/// Puts a page's own content into the shared layout (wwwroot/artists/_layout.html), so the head,
/// header, navigation and footer are written once. A page file starts with a metadata comment and
/// holds only what goes inside &lt;main&gt;:
/// <code>
/// &lt;!--
///   title: Your signing key
///   nav: /key
///   script: /assets/key-page.js
/// --&gt;
/// &lt;h1&gt;Your signing key&lt;/h1&gt;
/// </code>
/// <c>title</c> fills <c>{{title}}</c>; <c>nav</c> names the navigation link marked
/// <c>aria-current="page"</c> (the layout's <c>{{current:/key}}</c>); each <c>script</c> becomes a
/// module script at <c>{{scripts}}</c>; the rest goes to <c>{{content}}</c>, indented like it.
/// Any mistake throws with the file's name, so a broken page never goes out half made.
/// </summary>
internal static class ArtistPageLayout
{
    private const string TitlePlaceholder = "{{title}}";
    private const string ScriptsPlaceholder = "{{scripts}}";
    private const string ContentPlaceholder = "{{content}}";
    private const string CurrentPrefix = "{{current:";
    private const string CurrentMark = " aria-current=\"page\"";

    /// <summary>The complete page: <paramref name="layout"/> filled with the page file <paramref name="page"/>.</summary>
    public static string Compose(string layout, string page, string pageName)
    {
        var (metadata, content) = SplitMetadata(page, pageName);
        var title = Single(metadata, "title", pageName);
        var nav = Single(metadata, "nav", pageName);
        var scripts = metadata.Where(entry => entry.Key == "script")
            .Select(entry => $"<script type=\"module\" src=\"{WebUtility.HtmlEncode(entry.Value)}\"></script>")
            .ToList();

        // One pass over the layout, so nothing a page brings is ever read as a placeholder.
        var text = layout.Replace("\r\n", "\n", StringComparison.Ordinal);
        var html = new StringBuilder(text.Length + page.Length);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var at = 0;
        for (var start = text.IndexOf("{{", StringComparison.Ordinal); start >= 0; start = text.IndexOf("{{", at, StringComparison.Ordinal))
        {
            var end = text.IndexOf("}}", start, StringComparison.Ordinal);
            if (end < 0)
            {
                throw Problem(pageName, $"the layout has a {{{{ without its closing }}}} at character {start}");
            }

            html.Append(text, at, start - at);
            var placeholder = text[start..(end + 2)];
            at = end + 2;
            if (!seen.Add(placeholder))
            {
                throw Problem(pageName, $"the layout holds {placeholder} more than once");
            }

            switch (placeholder)
            {
                case TitlePlaceholder:
                    html.Append(WebUtility.HtmlEncode(title));
                    break;
                case ScriptsPlaceholder:
                    at = AppendLines(html, text, placeholder, at, scripts, pageName);
                    break;
                case ContentPlaceholder:
                    at = AppendLines(html, text, placeholder, at, content.Split('\n'), pageName);
                    break;
                case var _ when placeholder.StartsWith(CurrentPrefix, StringComparison.Ordinal):
                    html.Append(placeholder == CurrentPrefix + nav + "}}" ? CurrentMark : "");
                    break;
                default:
                    throw Problem(pageName, $"the layout has a placeholder it does not know, {placeholder}; use {{{{title}}}}, {{{{current:/route}}}}, {{{{scripts}}}} or {{{{content}}}}");
            }
        }

        foreach (var required in new[] { TitlePlaceholder, ScriptsPlaceholder, ContentPlaceholder })
        {
            if (!seen.Contains(required))
            {
                throw Problem(pageName, $"the layout has no {required}");
            }
        }

        if (!seen.Contains(CurrentPrefix + nav + "}}"))
        {
            throw Problem(pageName, $"its \"nav: {nav}\" names no link of the layout's navigation (no {CurrentPrefix}{nav}}}}} there)");
        }

        return html.Append(text, at, text.Length - at).ToString();
    }

    private static (List<KeyValuePair<string, string>> Metadata, string Content) SplitMetadata(string page, string pageName)
    {
        const string Open = "<!--\n", Close = "\n-->\n";
        var text = page.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
        if (!text.StartsWith(Open, StringComparison.Ordinal))
        {
            throw Problem(pageName, "it must start with a metadata comment: \"<!--\", then lines \"title: …\", \"nav: /route\", \"script: /assets/….js\", then \"-->\"");
        }

        // From the opening's own newline, so that an empty comment closes too.
        var close = text.IndexOf(Close, Open.Length - 1, StringComparison.Ordinal);
        if (close < 0)
        {
            throw Problem(pageName, "its metadata comment is not closed by a line \"-->\"");
        }

        var metadata = new List<KeyValuePair<string, string>>();
        foreach (var line in text[(Open.Length - 1)..close].Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var key = colon < 0 ? "" : line[..colon].Trim();
            var value = colon < 0 ? "" : line[(colon + 1)..].Trim();
            if (key is not ("title" or "nav" or "script") || value.Length == 0)
            {
                throw Problem(pageName, $"its metadata line \"{line}\" is not \"title: …\", \"nav: /route\" or \"script: /assets/….js\"");
            }

            metadata.Add(new(key, value));
        }

        return (metadata, text[(close + Close.Length)..].TrimEnd('\n'));
    }

    private static string Single(List<KeyValuePair<string, string>> metadata, string key, string pageName)
    {
        var values = metadata.Where(entry => entry.Key == key).Select(entry => entry.Value).ToList();
        return values.Count == 1
            ? values[0]
            : throw Problem(pageName, $"its metadata comment needs exactly one \"{key}:\" line, not {values.Count}");
    }

    /// <summary>
    /// Puts <paramref name="lines"/> where the line holding only <paramref name="placeholder"/> is,
    /// each indented like it (blank lines stay blank); with no lines the line goes altogether.
    /// Returns where the layout continues.
    /// </summary>
    private static int AppendLines(StringBuilder html, string text, string placeholder, int after, IReadOnlyList<string> lines, string pageName)
    {
        var start = after - placeholder.Length;
        var lineStart = start == 0 ? 0 : text.LastIndexOf('\n', start - 1) + 1;
        var indent = text[lineStart..start];
        if (indent.Any(c => c != ' ') || (after < text.Length && text[after] != '\n'))
        {
            throw Problem(pageName, $"the layout's {placeholder} must stand alone on its line");
        }

        html.Length -= indent.Length;
        if (lines.Count == 0)
        {
            return Math.Min(text.Length, after + 1);
        }

        for (var i = 0; i < lines.Count; i++)
        {
            html.Append(i == 0 ? "" : "\n").Append(lines[i].Length == 0 ? "" : indent).Append(lines[i]);
        }

        return after;
    }

    private static InvalidOperationException Problem(string pageName, string what) =>
        new($"The artist page {pageName} cannot be put into wwwroot/artists/{ArtistPages.LayoutFile}: {what}.");
}

using System.Buffers;
using System.Text;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Api.Storage;

/// <summary>
/// The packed form of a claim's canonical subjects in <c>claims.subjects</c>: one per line,
/// <c>kind TAB value</c>, plus <c>TAB subdomains</c> for a host that includes its subdomains.
/// Canonical values never hold a tab or a line break (URLs percent-encode them, hosts and hex
/// cannot contain them), so the format needs no escaping.
/// </summary>
internal static class StoredSubjects
{
    private const string SubdomainsFlag = "subdomains";

    public static string Encode(IReadOnlyList<Subject> subjects)
    {
        var length = 0;
        foreach (var s in subjects)
        {
            length += s.Kind.Length + s.Value.Length + 2 + (s.IncludeSubdomains ? SubdomainsFlag.Length + 1 : 0);
        }

        var text = new StringBuilder(length);
        foreach (var s in subjects)
        {
            text.Append(s.Kind).Append('\t').Append(s.Value);
            if (s.IncludeSubdomains)
            {
                text.Append('\t').Append(SubdomainsFlag);
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    public static List<Subject> Decode(string packed) => Decode(packed, static _ => true);

    /// <summary>The subjects of the kinds <paramref name="keep"/> takes, the first <paramref name="limit"/>; the others are never allocated.</summary>
    public static List<Subject> Decode(string packed, Func<string, bool> keep, int limit = int.MaxValue)
    {
        var subjects = new List<Subject>();
        if (limit <= 0)
        {
            return subjects;
        }

        foreach (var line in packed.AsSpan().EnumerateLines())
        {
            if (TryReadLine(line, out var kind, out var value, out var includeSubdomains) && keep(kind))
            {
                subjects.Add(new Subject(kind, value.ToString(), includeSubdomains));
                if (subjects.Count == limit)
                {
                    break;
                }
            }
        }

        return subjects;
    }

    /// <summary>
    /// One stored line as its parts, without allocating; false for an empty line, or one of a kind
    /// this version does not know: written by a newer version (a rolling deploy that adds a kind),
    /// it is skipped as the matching index skips kinds it cannot match, and the claim's other
    /// subjects still count. Thrown, it would stop every log pass at that claim, for good.
    /// </summary>
    public static bool TryReadLine(ReadOnlySpan<char> line, out string kind, out ReadOnlySpan<char> value, out bool includeSubdomains)
    {
        var tab = line.IndexOf('\t');
        if (tab < 0 || KindOf(line[..tab]) is not { } known)
        {
            kind = string.Empty;
            value = default;
            includeSubdomains = false;
            return false;
        }

        kind = known;
        var rest = line[(tab + 1)..];
        var flag = rest.IndexOf('\t');
        value = flag < 0 ? rest : rest[..flag];
        includeSubdomains = flag >= 0 && rest[(flag + 1)..].SequenceEqual(SubdomainsFlag);
        return true;
    }

    /// <summary>
    /// Reads a packed column as a stream of text and hands each line to <paramref name="onLine"/>,
    /// holding a few kilobytes at a time rather than the whole column (10,000 subjects are about a
    /// megabyte: as one string, each would land on the large object heap).
    /// </summary>
    public static async Task ReadLinesAsync(TextReader text, LineHandler onLine, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<char>.Shared.Rent(16 * 1024);
        try
        {
            var filled = 0;
            while (true)
            {
                if (filled == buffer.Length)
                {
                    // One line longer than the buffer (a URL near its 8 KiB limit with a long kind): grow.
                    var larger = ArrayPool<char>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<char>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await text.ReadAsync(buffer.AsMemory(filled), cancellationToken);
                filled += read;
                var consumed = HandleLines(buffer.AsSpan(0, filled), final: read == 0, onLine);
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
                if (read == 0)
                {
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    public delegate void LineHandler(string kind, ReadOnlySpan<char> value, bool includeSubdomains);

    /// <summary>Hands over the complete lines in <paramref name="text"/> (and the last one when <paramref name="final"/>); returns the characters used.</summary>
    private static int HandleLines(ReadOnlySpan<char> text, bool final, LineHandler onLine)
    {
        var used = 0;
        while (used < text.Length)
        {
            var end = text[used..].IndexOf('\n');
            if (end < 0 && !final)
            {
                break;
            }

            var line = end < 0 ? text[used..] : text.Slice(used, end);
            if (TryReadLine(line, out var kind, out var value, out var includeSubdomains))
            {
                onLine(kind, value, includeSubdomains);
            }

            used += end < 0 ? line.Length : end + 1;
        }

        return used;
    }

    // The kinds are a closed set: share their strings instead of allocating one per subject.
    private static string? KindOf(ReadOnlySpan<char> kind)
    {
        foreach (var known in SubjectKinds.All)
        {
            if (kind.SequenceEqual(known))
            {
                return known;
            }
        }

        return null;
    }
}

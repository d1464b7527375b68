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

    public static List<Subject> Decode(string packed)
    {
        var subjects = new List<Subject>();
        foreach (var line in packed.AsSpan().EnumerateLines())
        {
            if (line.IsEmpty)
            {
                continue;
            }

            var tab = line.IndexOf('\t');
            var kind = line[..tab];
            var rest = line[(tab + 1)..];
            var flag = rest.IndexOf('\t');
            var value = flag < 0 ? rest : rest[..flag];
            subjects.Add(new Subject(KindOf(kind), value.ToString(), flag >= 0 && rest[(flag + 1)..].SequenceEqual(SubdomainsFlag)));
        }

        return subjects;
    }

    // The kinds are a closed set: share their strings instead of allocating one per subject.
    private static string KindOf(ReadOnlySpan<char> kind)
    {
        foreach (var known in SubjectKinds.All)
        {
            if (kind.SequenceEqual(known))
            {
                return known;
            }
        }

        throw new InvalidDataException($"Unknown subject kind '{kind}' in the store.");
    }
}

using System.Runtime.InteropServices;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Policy;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Api.Policy;

/// <summary>
/// Folds a host's subjects, claim chunk by claim chunk, into at most <see cref="MaxEntries"/>
/// (subject, party) entries, so a render holds memory for the answer, not for every subject on
/// the host. Exact while it fits: per party and subject the latest claim (iat, then seq) is kept,
/// as <see cref="HostPolicy.Resolve"/> would. Past the limit, URL and URL-prefix subjects are cut
/// to fewer path segments (url-prefix subjects at that depth) and what falls on one location is
/// combined: any "n" stays "n", a "y" stays only where every claim there said "y". That covers
/// more than was opted out, never less, as the documents' merged lines already may.
/// </summary>
internal sealed class HostSubjectFold(string host, int maxEntries = HostSubjectFold.DefaultMaxEntries)
{
    /// <summary>About 200 bytes an entry: some 20 MB at most, whatever the host holds.</summary>
    public const int DefaultMaxEntries = 100_000;

    private Dictionary<(string Subject, int Party), Entry> _entries = [];
    private int _depth = int.MaxValue; // path segments kept; MaxValue: exact

    public int MaxEntries => maxEntries;

    /// <summary>The most entries held at once (for tests and metrics).</summary>
    public int PeakEntries { get; private set; }

    /// <summary>True once subjects were cut to fewer segments to stay within the limit.</summary>
    public bool Coarsened => _depth != int.MaxValue;

    public void Add(int party, long iat, long seq, Usage usage, bool countsGrants, string? policy, IReadOnlyList<Subject> subjects)
    {
        foreach (var subject in subjects)
        {
            if (!HostPolicy.TryLocate(host, subject, out _, out _, out _))
            {
                continue;
            }

            Put(new Entry(party, iat, seq, usage, countsGrants, policy, Cut(subject)));
            while (_entries.Count > maxEntries && _depth > 0)
            {
                Coarsen();
            }
        }
    }

    /// <summary>One claim per entry, for <see cref="HostPolicy.Resolve"/>.</summary>
    public List<PolicyClaim> ToClaims() =>
        _entries.Values.Select(e => new PolicyClaim(e.Party, e.Iat, e.Seq, e.Usage, e.CountsGrants, e.Policy, [e.Subject])).ToList();

    private void Put(Entry entry)
    {
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_entries, (Key(entry.Subject), entry.Party), out var exists);
        if (!exists)
        {
            slot = entry;
            PeakEntries = Math.Max(PeakEntries, _entries.Count);
        }
        else if (!Coarsened)
        {
            if ((entry.Iat, entry.Seq).CompareTo((slot.Iat, slot.Seq)) > 0)
            {
                slot = entry;
            }
        }
        else
        {
            slot = Combine(slot, entry);
        }
    }

    private void Coarsen()
    {
        var deepest = _entries.Keys.Max(k => Depth(k.Subject));
        _depth = Math.Min(_depth == int.MaxValue ? deepest : _depth, deepest) - 1;
        if (_depth < 0)
        {
            _depth = 0;
        }

        var old = _entries;
        _entries = new Dictionary<(string Subject, int Party), Entry>(old.Count / 2);
        foreach (var entry in old.Values)
        {
            Put(entry with { Subject = Cut(entry.Subject) });
        }
    }

    /// <summary>URL and URL-prefix subjects at the current depth; host subjects as they are.</summary>
    private Subject Cut(Subject subject)
    {
        if (!Coarsened || subject.Kind is not (SubjectKinds.Url or SubjectKinds.UrlPrefix))
        {
            return subject;
        }

        var pathStart = CanonicalParts.PathStart(subject.Value);
        var end = pathStart + 1; // after the leading "/"
        for (var segment = 0; segment < _depth; segment++)
        {
            var slash = subject.Value.IndexOfAny(['/', '?'], end);
            if (slash < 0 || subject.Value[slash] == '?')
            {
                return subject; // no deeper than the depth kept: stays as it is
            }

            end = slash + 1;
        }

        return new Subject(SubjectKinds.UrlPrefix, subject.Value[..end]);
    }

    private static int Depth(string key)
    {
        var path = key.AsSpan(key.IndexOf(' ') + 1);
        var start = path.IndexOf("://", StringComparison.Ordinal);
        return start < 0 ? 0 : path[(start + 3)..].Count('/');
    }

    private static string Key(Subject subject) => subject.Kind + " " + subject.Value;

    private static Entry Combine(Entry a, Entry b)
    {
        Span<Preference> values = stackalloc Preference[UseCategories.All.Count];
        for (var category = 0; category < values.Length; category++)
        {
            values[category] = (a.Usage[category], b.Usage[category]) switch
            {
                (Preference.No, _) or (_, Preference.No) => Preference.No,
                (Preference.Yes, Preference.Yes) => Preference.Yes,
                _ => Preference.Unset,
            };
        }

        var newer = (b.Iat, b.Seq).CompareTo((a.Iat, a.Seq)) > 0 ? b : a;
        return newer with { Usage = Usage.FromValues(values), CountsGrants = a.CountsGrants && b.CountsGrants };
    }

    private readonly record struct Entry(int Party, long Iat, long Seq, Usage Usage, bool CountsGrants, string? Policy, Subject Subject);
}

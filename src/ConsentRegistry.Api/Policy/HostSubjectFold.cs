using System.Runtime.InteropServices;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Policy;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Api.Policy;

/// <summary>
/// Folds a host's subjects, claim chunk by claim chunk, into at most <see cref="MaxEntries"/>
/// (subject, party) entries of <see cref="CharsPerEntry"/> characters on average, so a render holds
/// memory for the answer, not for every subject on the host (nor for 8 KiB URLs at the entry limit). Exact while it fits: per party and subject the latest claim (iat, then seq) is kept,
/// as <see cref="HostPolicy.Resolve"/> would. Past the limit, URL and URL-prefix subjects are cut
/// to fewer path segments (url-prefix subjects at that depth) and what falls on one location is
/// combined: any "n" stays "n". A subject that was cut keeps its "n"s only: its "y"s would reach
/// URLs nobody claimed (a crawler reading <c>/gallery/ train-ai=y</c> where only some files under
/// it were granted), while a "y" stays on a subject kept whole where every claim there said "y".
/// That covers more than was opted out, never less, and grants no more than was granted. The
/// depth is chosen by halving (a few passes over the entries whatever the deepest subject); when
/// the parties' entries would not fit even cut to the root (many parties), parties are merged.
/// </summary>
internal sealed class HostSubjectFold(string host, int maxEntries = HostSubjectFold.DefaultMaxEntries)
{
    /// <summary>About 200 bytes an entry: some 20 MB at most, whatever the host holds.</summary>
    public const int DefaultMaxEntries = 100_000;

    /// <summary>
    /// The subjects' characters the entries hold on average at most: a URL may be 8,192 characters,
    /// and 100,000 of them would be 1.6 GB held twice (the subject and its key), and more rendered.
    /// </summary>
    public const int CharsPerEntry = 100;

    // Keyed by party and subject, packed into one string (see ComposeKey) so that a subject read as
    // text is looked up as a span: a render allocates for the entries it keeps, not per subject read.
    private Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private int _depth = int.MaxValue; // path segments kept; MaxValue: exact
    private bool _partiesMerged; // every entry is filed under AnyParty
    private char[] _key = new char[256];
    private long _chars; // the kept subjects' values
    private readonly long _maxChars = (long)maxEntries * CharsPerEntry;

    public int MaxEntries => maxEntries;

    /// <summary>The most entries held at once (for tests and metrics).</summary>
    public int PeakEntries { get; private set; }

    /// <summary>True once subjects were cut to fewer segments to stay within the limit.</summary>
    public bool Coarsened => _depth != int.MaxValue;

    /// <summary>One subject of a claim, as its canonical kind and value.</summary>
    public void Add(in Claim claim, string kind, ReadOnlySpan<char> value, bool includeSubdomains)
    {
        if (!HostPolicy.IsOnHost(host, kind, value, includeSubdomains))
        {
            return;
        }

        Put(new Entry(claim.Party, claim.Iat, claim.Seq, claim.Usage, claim.CountsGrants, claim.Policy, null), kind, value, includeSubdomains);
        while ((_entries.Count > maxEntries || _chars > _maxChars) && !(_partiesMerged && _depth == 0))
        {
            Coarsen();
        }
    }

    /// <summary>Times the entries were cut to fewer segments or merged (for tests).</summary>
    public int Coarsenings { get; private set; }

    /// <summary>One claim per entry, for <see cref="HostPolicy.Resolve"/>.</summary>
    public List<PolicyClaim> ToClaims() =>
        _entries.Values.Select(e => new PolicyClaim(e.Party, e.Iat, e.Seq, e.Usage, e.CountsGrants, e.Policy, [e.Subject!])).ToList();

    /// <summary>Files <paramref name="entry"/> under its subject, cut to the current depth; the subject is allocated only when the entry is new or differs.</summary>
    private void Put(Entry entry, string kind, ReadOnlySpan<char> value, bool includeSubdomains)
    {
        var (wholeKind, wholeLength) = (kind, value.Length);
        value = Cut(ref kind, value, _depth);
        if (value.Length != wholeLength || kind != wholeKind)
        {
            entry = entry with { Usage = OptOutsOnly(entry.Usage) };
        }

        var lookup = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
        entry = _partiesMerged ? entry with { Party = AnyParty } : entry;
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(lookup, ComposeKey(entry.Party, kind, value), out var exists);
        if (!exists || (!Coarsened && (entry.Iat, entry.Seq).CompareTo((slot.Iat, slot.Seq)) > 0))
        {
            var subject = entry.Subject is { } held && held.Kind == kind && value.SequenceEqual(held.Value)
                ? held
                : new Subject(kind, value.ToString(), includeSubdomains);
            _chars += exists ? 0 : value.Length;
            slot = entry with { Subject = subject };
            PeakEntries = Math.Max(PeakEntries, _entries.Count);
            PeakChars = Math.Max(PeakChars, _chars);
        }
        else if (Coarsened)
        {
            slot = Combine(slot, entry with { Subject = slot.Subject });
        }
    }

    /// <summary>The most characters the kept subjects have held at once (for tests).</summary>
    public long PeakChars { get; private set; }

    /// <summary>
    /// Cuts the entries to the deepest depth at which they fill at most three quarters of the limits
    /// (room for what comes next before the next cut), found by halving. When the parties' own
    /// entries would not fit even with every path cut to the root (many parties), parties are
    /// merged first, across them any "n" staying "n", and paths cut only as far as still needed.
    /// </summary>
    private void Coarsen()
    {
        Coarsenings++;
        var target = new Size(Math.Max(1, maxEntries / 4 * 3), _maxChars / 4 * 3);
        var deepest = _entries.Values.Max(e => PathDepth(e.Subject!));
        var top = Math.Min(_depth, deepest) - 1; // cutting deeper changes nothing, or was too many already
        if (!_partiesMerged && (top < 0 || !SizeAt(0, mergeParties: false).Fits(target)))
        {
            _partiesMerged = true;
            top = Math.Min(_depth, deepest); // merging may be enough where they stand
        }

        _depth = Math.Max(0, DeepestFitting(top, target));
        var old = _entries;
        _entries = new Dictionary<string, Entry>(Math.Min(old.Count, target.Entries), StringComparer.Ordinal);
        _chars = 0;
        foreach (var entry in old.Values)
        {
            Put(entry, entry.Subject!.Kind, entry.Subject.Value, entry.Subject.IncludeSubdomains);
        }
    }

    /// <summary>The deepest depth up to <paramref name="top"/> whose size fits <paramref name="target"/> (sizes grow with depth), or 0 when none does.</summary>
    private int DeepestFitting(int top, Size target)
    {
        var (low, high) = (0, top);
        while (low < high)
        {
            var middle = low + ((high - low + 1) / 2);
            (low, high) = SizeAt(middle, _partiesMerged).Fits(target) ? (middle, high) : (low, middle - 1);
        }

        return low;
    }

    /// <summary>The entries and characters there would be with paths cut to <paramref name="depth"/> segments (by 64-bit hashes of the keys: a collision only undercounts, and Add cuts again if it must).</summary>
    private Size SizeAt(int depth, bool mergeParties)
    {
        var keys = new HashSet<ulong>(_entries.Count);
        long chars = 0;
        foreach (var entry in _entries.Values)
        {
            var kind = entry.Subject!.Kind;
            var value = Cut(ref kind, entry.Subject.Value, depth);
            if (keys.Add(System.IO.Hashing.XxHash3.HashToUInt64(System.Runtime.InteropServices.MemoryMarshal.AsBytes(ComposeKey(mergeParties ? AnyParty : entry.Party, kind, value)))))
            {
                chars += value.Length;
            }
        }

        return new Size(keys.Count, chars);
    }

    /// <summary>What the entries hold: how many, and their subjects' characters.</summary>
    private readonly record struct Size(int Entries, long Chars)
    {
        public bool Fits(Size target) => Entries <= target.Entries && Chars <= target.Chars;
    }

    /// <summary>The party (as two chars), the kind and the value in one reused buffer: the dictionary's key.</summary>
    private ReadOnlySpan<char> ComposeKey(int party, string kind, ReadOnlySpan<char> value)
    {
        var length = 2 + kind.Length + 1 + value.Length;
        if (_key.Length < length)
        {
            _key = new char[Math.Max(length, _key.Length * 2)];
        }

        _key[0] = (char)(party >> 16);
        _key[1] = (char)party;
        kind.CopyTo(_key.AsSpan(2));
        _key[2 + kind.Length] = ' ';
        value.CopyTo(_key.AsSpan(3 + kind.Length));
        return _key.AsSpan(0, length);
    }

    /// <summary>URL and URL-prefix subjects cut to <paramref name="depth"/> path segments (a cut URL becomes a URL prefix); host subjects as they are.</summary>
    private static ReadOnlySpan<char> Cut(scoped ref string kind, ReadOnlySpan<char> value, int depth)
    {
        if (depth == int.MaxValue || kind is not (SubjectKinds.Url or SubjectKinds.UrlPrefix))
        {
            return value;
        }

        var end = CanonicalParts.PathStart(value) + 1; // after the leading "/"
        for (var segment = 0; segment < depth; segment++)
        {
            var slash = value[end..].IndexOfAny('/', '?');
            if (slash < 0 || value[end + slash] == '?')
            {
                return value; // no deeper than the depth kept: stays as it is
            }

            end += slash + 1;
        }

        kind = SubjectKinds.UrlPrefix;
        return value[..end];
    }

    /// <summary>
    /// The slashes of a URL or URL prefix's path before any query; 0 for a host. <see cref="Cut"/>
    /// leaves a URL whole at this depth and deeper (a prefix ending in "/" at one less), so no cut
    /// deeper than the largest of these, less one, changes anything.
    /// </summary>
    private static int PathDepth(Subject subject)
    {
        if (subject.Kind is not (SubjectKinds.Url or SubjectKinds.UrlPrefix))
        {
            return 0;
        }

        var path = subject.Value.AsSpan(CanonicalParts.PathStart(subject.Value));
        var query = path.IndexOf('?');
        return (query < 0 ? path : path[..query]).Count('/');
    }

    /// <summary>The "n"s of <paramref name="usage"/>, its "y"s unset.</summary>
    private static Usage OptOutsOnly(Usage usage)
    {
        Span<Preference> values = stackalloc Preference[UseCategories.All.Count];
        for (var category = 0; category < values.Length; category++)
        {
            values[category] = usage[category] == Preference.No ? Preference.No : Preference.Unset;
        }

        return Usage.FromValues(values);
    }

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

    /// <summary>The party of entries once parties are merged.</summary>
    private const int AnyParty = -1;

    /// <summary>What a claim brings to each of its subjects.</summary>
    public readonly record struct Claim(int Party, long Iat, long Seq, Usage Usage, bool CountsGrants, string? Policy);

    private readonly record struct Entry(int Party, long Iat, long Seq, Usage Usage, bool CountsGrants, string? Policy, Subject? Subject);
}

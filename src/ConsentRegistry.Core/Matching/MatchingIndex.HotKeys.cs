using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Core.Matching;

// Keys that many claims share (a host that thousands of parties claimed, a popular URL) would make
// a lookup's cost grow with the claims on them: every posting walked, every pair compared for
// "latest per party". Once a key has DefaultHotKeyPostings postings it becomes hot: a lookup finds it
// in a small table of hot keys before its postings, and the HotKey keeps, per view, what resolution
// needs already resolved at write time: the party's effective claim (latest iat, then seq, not
// revoked), the count of effective "n" and "y" per category (the "y" by trust level, so the
// configured minimum stays a lookup parameter), and the effective claims ordered strongest trust
// and newest first, of which a lookup lists at most MaxListedMatches. A lookup then costs the
// same on a hot key with 2 or 200,000 claims. Adding a claim is O(log n); revoking a party's
// effective claim or changing its trust rescans the key's postings once to find the next one.
public sealed partial class MatchingIndex
{
    /// <summary>The most matches an item lists; the rest are counted in its <c>more</c>.</summary>
    public const int MaxListedMatches = 16;

    /// <summary>A key with this many postings is resolved from its aggregate, not by walking them.</summary>
    internal const int DefaultHotKeyPostings = 32;

    private readonly int _hotKeyPostings = DefaultHotKeyPostings;
    private bool _bulkLoading;

    private readonly List<HotKey> _hotKeys = [];
    private readonly Dictionary<(MatchKind By, Key80 Key), int> _hotKeyNumbers = [];
    // Claim number → its hot key, or (negative) the complement of an index into _severalHotKeys:
    // nearly every claim on a hot key is on just one, so that costs one dictionary entry.
    private readonly Dictionary<int, int> _hotKeyOfClaim = [];
    private readonly List<List<int>> _severalHotKeys = [];
    private IComparer<int>? _strongestFirst;
    private Comparison<Match>? _listingOrder;

    public MatchingIndex()
    {
    }

    /// <summary>An index that searches a model's embeddings approximately once it holds enough of them.</summary>
    public MatchingIndex(ApproximateVectorSettings? approximate) => _approximate = approximate;

    /// <summary>For tests: an index whose keys turn hot at <paramref name="hotKeyPostings"/> postings (int.MaxValue: never).</summary>
    internal MatchingIndex(int hotKeyPostings) => _hotKeyPostings = Math.Max(1, hotKeyPostings);

    /// <summary>Keys resolved from an aggregate (for tests and monitoring).</summary>
    public int HotKeyCount => _hotKeys.Count;

    private IComparer<int> StrongestFirst => _strongestFirst ??= Comparer<int>.Create(CompareStrongestFirst);

    /// <summary>Listing order: trust descending, then iat, then seq, newest first; claim numbers are unique, so no ties.</summary>
    private int CompareStrongestFirst(int a, int b)
    {
        var byTrust = _claims.Trust(b).CompareTo(_claims.Trust(a));
        return byTrust != 0 ? byTrust : _claims.IsNewer(a, b) ? -1 : _claims.IsNewer(b, a) ? 1 : 0;
    }

    /// <summary>
    /// Posts <paramref name="claim"/> under a key. A key turns hot when it reaches the hot-key length
    /// in the tail (claims planted together), or within a new segment (a full tail, a merge:
    /// <see cref="MakeCrowdedKeysHot"/>), or at <see cref="Compact"/>, which counts exactly. Counting
    /// a key's postings in every segment on every add made adding cost a few cache misses per
    /// segment per subject, and the serving index's intake slowed as it grew (docs/benchmarks.md,
    /// "Index snapshots"). Until a key turns hot, a lookup walks its postings: at most one short of
    /// the hot-key length per segment.
    /// </summary>
    private void Post(KeyTable postings, UInt128 fingerprint, MatchKind by, int claim, bool includeSubdomains)
    {
        var key = Key80.Of(fingerprint);
        postings.CrowdedAt = _bulkLoading ? 0 : _hotKeyPostings;
        postings.Add(key, (uint)claim | (includeSubdomains ? IncludeSubdomainsBit : 0));
        if (_hotKeyNumbers.TryGetValue((by, key), out var number))
        {
            NoteHotClaim(claim, number);
            _hotKeys[number].Offer(claim, includeSubdomains, this);
        }
        else if (!_bulkLoading && postings.TailCount(key) >= _hotKeyPostings)
        {
            MakeHot(postings, key, by);
        }

        if (postings.TakeCrowded() is { } crowded)
        {
            MakeCrowdedKeysHot(postings, by, crowded);
        }
    }

    /// <summary>
    /// For the build from the store: until <see cref="Compact"/>, keys are not watched as they are
    /// posted, and <see cref="Compact"/> then turns hot, in one pass over the sorted entries, every
    /// key with enough postings. Answers are the same meanwhile; a lookup on a crowded key only
    /// walks its postings.
    /// </summary>
    public void BeginBulkLoad() => _bulkLoading = true;

    /// <summary>Turns hot every key with enough postings; called by <see cref="Compact"/>, once every table is compacted (into one segment, or a few where one would pass its cap: a key's postings are counted across them).</summary>
    private void MakeCompactedKeysHot()
    {
        _bulkLoading = false;
        foreach (var (table, by) in SubjectTables)
        {
            MakeCrowdedKeysHot(table, by, table.KeysWithAtLeast(_hotKeyPostings));
        }
    }

    /// <summary>Turns hot those of <paramref name="keys"/> that are not yet.</summary>
    private void MakeCrowdedKeysHot(KeyTable table, MatchKind by, List<Key80> keys)
    {
        foreach (var key in keys)
        {
            if (!_hotKeyNumbers.ContainsKey((by, key)))
            {
                MakeHot(table, key, by);
            }
        }
    }

    private void MakeHot(KeyTable postings, Key80 key, MatchKind by)
    {
        var number = _hotKeys.Count;
        var hot = new HotKey(postings, key, by, this);
        _hotKeys.Add(hot);
        _hotKeyNumbers.Add((by, key), number);
        var values = postings.Find(key);
        while (values.MoveNext())
        {
            var (claim, includeSubdomains) = Unpack(values.Current);
            NoteHotClaim(claim, number);
            hot.Offer(claim, includeSubdomains, this);
        }
    }

    private static (int Claim, bool IncludeSubdomains) Unpack(uint posting) =>
        ((int)(posting & ~IncludeSubdomainsBit), (posting & IncludeSubdomainsBit) != 0);

    private void NoteHotClaim(int claim, int hotKey)
    {
        ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_hotKeyOfClaim, claim, out var known);
        if (!known)
        {
            slot = hotKey;
        }
        else if (slot >= 0 && slot != hotKey)
        {
            _severalHotKeys.Add([slot, hotKey]);
            slot = ~(_severalHotKeys.Count - 1);
        }
        else if (slot < 0 && !_severalHotKeys[~slot].Contains(hotKey))
        {
            _severalHotKeys[~slot].Add(hotKey);
        }
    }

    private int[] HotKeysOf(int claim) =>
        !_hotKeyOfClaim.TryGetValue(claim, out var slot) ? [] : slot >= 0 ? [slot] : [.. _severalHotKeys[~slot]];

    /// <summary>Takes <paramref name="claim"/> out of the hot keys it is effective in, before its trust or revocation changes.</summary>
    private int[] WithdrawFromHotKeys(int claim)
    {
        var keys = HotKeysOf(claim);
        foreach (var number in keys)
        {
            _hotKeys[number].All.Withdraw(claim, this);
            _hotKeys[number].SubdomainsOnly.Withdraw(claim, this);
        }

        return keys;
    }

    /// <summary>After the change: puts the claim back where it is still effective, or the party's next claim where it is not.</summary>
    private void RestoreToHotKeys(int[] keys, int claim)
    {
        foreach (var number in keys)
        {
            _hotKeys[number].Rescan(_claims.Party(claim), this);
        }
    }

    /// <summary>A key shared by many claims, where its postings are, and two resolved views.</summary>
    private sealed class HotKey(KeyTable postings, Key80 key, MatchKind by, MatchingIndex index)
    {
        public MatchKind By { get; } = by;

        /// <summary>Every posting: the view of a lookup on this very key.</summary>
        public HotView All { get; } = new(index.StrongestFirst);

        /// <summary>Only host subjects with include_subdomains: the view of a lookup on a subdomain.</summary>
        public HotView SubdomainsOnly { get; } = new(index.StrongestFirst);

        /// <summary>Recomputes <paramref name="party"/>'s effective claim in both views from the postings.</summary>
        public void Rescan(int party, MatchingIndex index)
        {
            var values = postings.Find(key);
            while (values.MoveNext())
            {
                var (claim, includeSubdomains) = Unpack(values.Current);
                if (index._claims.Party(claim) == party)
                {
                    Offer(claim, includeSubdomains, index);
                }
            }
        }

        /// <summary>A posting's claim competes in every view the posting belongs to.</summary>
        public void Offer(int claim, bool includeSubdomains, MatchingIndex index)
        {
            All.Offer(claim, index);
            if (includeSubdomains)
            {
                SubdomainsOnly.Offer(claim, index);
            }
        }
    }

    /// <summary>The effective claims of a hot key (one per party) and their votes per category.</summary>
    private sealed class HotView(IComparer<int> strongestFirst)
    {
        private const int TrustLevels = 3;
        private readonly Dictionary<int, int> _effectiveByParty = [];
        private readonly int[] _no = new int[UseCategories.All.Count];
        private readonly int[] _yes = new int[UseCategories.All.Count * TrustLevels];

        public SortedSet<int> Ordered { get; } = new(strongestFirst);

        public int Count => Ordered.Count;

        public bool IsEffective(int claim, MatchingIndex index) =>
            _effectiveByParty.TryGetValue(index._claims.Party(claim), out var effective) && effective == claim;

        /// <summary>Makes <paramref name="claim"/> its party's effective claim if it is newer than the current one and not revoked.</summary>
        public void Offer(int claim, MatchingIndex index)
        {
            var entry = index._claims[claim];
            if (entry.Revoked)
            {
                return;
            }

            if (_effectiveByParty.TryGetValue(entry.Party, out var current))
            {
                if (current == claim || index._claims.IsNewer(current, claim))
                {
                    return;
                }

                Remove(current, index);
            }

            _effectiveByParty[entry.Party] = claim;
            Ordered.Add(claim);
            Tally(entry, +1);
        }

        /// <summary>Removes <paramref name="claim"/> if it is effective; the caller then rescans its party.</summary>
        public void Withdraw(int claim, MatchingIndex index)
        {
            if (IsEffective(claim, index))
            {
                Remove(claim, index);
                _effectiveByParty.Remove(index._claims.Party(claim));
            }
        }

        public void AddVotes(Span<Permission> permissions, TrustLevel minTrustForGrants)
        {
            for (var category = 0; category < permissions.Length; category++)
            {
                if (_no[category] > 0)
                {
                    permissions[category] = Permission.Disallow;
                    continue;
                }

                if (permissions[category] == Permission.Disallow)
                {
                    continue;
                }

                for (var trust = TrustRank(minTrustForGrants); trust < TrustLevels; trust++)
                {
                    if (_yes[(category * TrustLevels) + trust] > 0)
                    {
                        permissions[category] = Permission.Allow;
                        break;
                    }
                }
            }
        }

        private void Remove(int claim, MatchingIndex index)
        {
            Ordered.Remove(claim);
            Tally(index._claims[claim], -1);
        }

        private void Tally(in ClaimEntry claim, int delta)
        {
            var trust = TrustRank(claim.Trust);
            for (var category = 0; category < _no.Length; category++)
            {
                var preference = claim.Usage[category];
                if (preference == Preference.No)
                {
                    _no[category] += delta;
                }
                else if (preference == Preference.Yes)
                {
                    _yes[(category * TrustLevels) + trust] += delta;
                }
            }
        }

        private static int TrustRank(TrustLevel trust) => trust >= TrustLevel.Reviewed ? 2 : trust >= TrustLevel.Domain ? 1 : 0;
    }
}

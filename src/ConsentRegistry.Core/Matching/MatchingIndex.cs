using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Pdq;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// The in-memory matching index (DESIGN.md 3). Each key kind maps an 80-bit fingerprint to the
/// numbers of the claims posted under it in a <see cref="KeyTable"/> (12 bytes a posting, decision
/// record 0013); claims are an id column and packed rows in a <see cref="ClaimTable"/> (decision record 0019). URL prefixes
/// are found by hashing the looked-up URL cut at each prefix length registered for its
/// scheme and authority; host claims by hashing the host and each parent domain; PDQ hashes
/// by a multi-index within a Hamming radius (<see cref="PdqIndex"/>).
/// Not thread-safe: <see cref="SharedMatchingIndex"/> guards it for readers and the one writer.
/// </summary>
public sealed partial class MatchingIndex
{
    /// <summary>A posting's top bit: a host subject with include_subdomains (claim numbers stay below 2^31).</summary>
    private const uint IncludeSubdomainsBit = 1u << 31;

    private readonly Dictionary<string, int> _parties = new(StringComparer.Ordinal);
    private readonly List<string> _partyNames = [];
    private readonly KeyTable _urls = new() { DeferMerges = true };
    private readonly KeyTable _prefixes = new() { DeferMerges = true };
    private readonly PrefixLengths _prefixLengths = new();
    private readonly KeyTable _hosts = new() { DeferMerges = true };
    private readonly KeyTable _sha256 = new() { DeferMerges = true };
    private ClaimTable _claims = new();

    /// <summary>The last log seq applied: lookups reflect the log up to here.</summary>
    public long AppliedSeq { get; private set; }

    /// <summary>Entries: claims and derived sets (<see cref="DerivedEntryCount"/>).</summary>
    public int ClaimCount => _claims.Count;

    public long SubjectCount { get; private set; }

    public ClaimEntry Claim(int index) => _claims[index];

    /// <summary>The party (its key thumbprint) of party number <paramref name="party"/>, as <see cref="ClaimEntry.Party"/> holds it.</summary>
    public string PartyName(int party) => _partyNames[party];

    /// <summary>Records that the log up to <paramref name="seq"/> is applied; ignored while a pass over the log is half applied (its end records it).</summary>
    public void MarkApplied(long seq)
    {
        if (!InLogPass)
        {
            AppliedSeq = Math.Max(AppliedSeq, seq);
        }
    }

    /// <summary>
    /// True while a pass over the log is half applied: a pass applies claims first and their
    /// revocations and trust changes last, so meanwhile the index is at no one seq: no snapshot
    /// may be taken, <see cref="AppliedSeq"/> stays where the pass began (lookups report no seq
    /// whose revocations are not in yet), and nothing else may apply entries (an own commit applied
    /// mid-pass would be overwritten by the pass's older trust changes). Set and cleared by the log reader.
    /// </summary>
    public bool InLogPass { get; private set; }

    public void BeginLogPass() => InLogPass = true;

    /// <summary>Ends a pass that applied the log up to <paramref name="upTo"/>.</summary>
    public void EndLogPass(long upTo)
    {
        InLogPass = false;
        MarkApplied(upTo);
    }

    /// <summary>The number (for <see cref="Claim"/>) of the claim with id <paramref name="id"/>, if the index holds it.</summary>
    public bool TryFindClaim(string id, out int claim)
    {
        claim = -1;
        return ClaimKey.TryParse(id, out var key) && TryFindClaim(key, out claim);
    }

    private bool TryFindClaim(in ClaimKey key, out int claim) => _claims.TryFind(key, out claim);

    /// <summary>Adds a claim; its id must be well-formed (<see cref="ClaimKey.Parse"/>).</summary>
    public void Add(IndexedClaim claim)
    {
        RefuseIfLookupsOnly();
        var key = ClaimKey.Parse(claim.Id);
        if (TryFindClaim(key, out _))
        {
            return; // already applied (the loader may see a claim twice across a restart of its tail)
        }

        ref var party = ref CollectionsMarshal.GetValueRefOrAddDefault(_parties, claim.Party, out var known);
        if (!known)
        {
            party = _parties.Count - 1;
            _partyNames.Add(claim.Party);
            _stringBytes += StringBytes(claim.Party) + sizeof(long); // the name, and its slot in _partyNames
        }

        AddEntry(new ClaimEntry(key, claim.Seq, party, claim.Iat, claim.Usage, claim.Trust, claim.Revoked), claim.Subjects, findable: true);
        MarkApplied(claim.Seq);
    }

    /// <summary>
    /// Adds one entry (a claim, or a claim's derived fingerprints) and posts its subjects; returns
    /// its number. A claim is <paramref name="findable"/> by its id; a derived set, which shares it, is not.
    /// </summary>
    private int AddEntry(ClaimEntry entry, IReadOnlyList<Subject> subjects, bool findable = false)
    {
        var index = findable ? _claims.AddWithId(entry) : _claims.Add(entry);
        foreach (var subject in subjects)
        {
            switch (subject.Kind)
            {
                case SubjectKinds.Url:
                    Post(_urls, Fingerprint.Of(subject.Value), MatchKind.Url, index, false);
                    break;
                case SubjectKinds.UrlPrefix:
                    AddPrefix(subject.Value, index);
                    break;
                case SubjectKinds.Host:
                    Post(_hosts, Fingerprint.Of(subject.Value), MatchKind.Host, index, subject.IncludeSubdomains);
                    break;
                case SubjectKinds.Sha256:
                    Post(_sha256, Fingerprint.Of(subject.Value), MatchKind.Sha256, index, false);
                    break;
                case SubjectKinds.Pdq:
                    AddPdq(subject.Value, index);
                    break;
                case SubjectKinds.Embedding:
                    AddEmbedding(subject.Value, index);
                    break;
                default:
                    continue;
            }

            _subjectCounts.Add(subject.Kind);
            SubjectCount++;
        }

        AddHostPostings(entry.Seq, subjects);
        return index;
    }

    public bool Revoke(string claimId, long seq)
    {
        RefuseIfLookupsOnly();
        MarkApplied(seq);
        if (!TryFindClaim(claimId, out var index))
        {
            return false;
        }

        Update(index, _claims[index] with { Revoked = true });
        UpdateDerived(index, static entry => entry with { Revoked = true });
        TouchClaimHosts(index, seq);
        return true;
    }

    public bool SetTrust(string claimId, TrustLevel trust, long seq)
    {
        RefuseIfLookupsOnly();
        MarkApplied(seq);
        if (!TryFindClaim(claimId, out var index))
        {
            return false;
        }

        Update(index, _claims[index] with { Trust = trust });
        UpdateDerived(index, entry => entry with { Trust = DerivedTrust(trust) });
        TouchClaimHosts(index, seq);
        return true;
    }

    /// <summary>
    /// Resolves one item (DESIGN.md 2): the non-revoked claims whose subjects match the URL, the
    /// SHA-256, or the PDQ hash within <paramref name="pdqMaxDistance"/> bits; per party and
    /// subject the latest iat wins; any "n" disallows, else a "y" of a
    /// claim trusted at <paramref name="minTrustForGrants"/> or above allows.
    /// <paramref name="matches"/> receives the deciding claims, at most <see cref="MaxListedMatches"/>,
    /// strongest trust and newest first; <paramref name="more"/> counts the deciding matches left out.
    /// </summary>
    public Decision Lookup(
        in CanonicalUrl? url, string? sha256, TrustLevel minTrustForGrants, List<Match> matches, out int more,
        PdqHash? pdq = null, int pdqMaxDistance = 31, EmbeddingQuery? embeddings = null) =>
        Lookup(url is { } u ? new UrlProbe(u) : default, sha256, minTrustForGrants, matches, out more, pdq, pdqMaxDistance, embeddings);

    /// <inheritdoc cref="Lookup(in CanonicalUrl?, string?, TrustLevel, List{Match}, out int, PdqHash?, int, EmbeddingQuery?)"/>
    /// <param name="url">The URL with its fingerprints (<see cref="PrefetchAhead"/>), or the default value for none.</param>
    public Decision Lookup(
        in UrlProbe url, string? sha256, TrustLevel minTrustForGrants, List<Match> matches, out int more,
        PdqHash? pdq = null, int pdqMaxDistance = 31, EmbeddingQuery? embeddings = null)
    {
        matches.Clear();
        return Find(url, sha256, pdq, pdqMaxDistance, embeddings, minTrustForGrants, matches, out more);
    }

    /// <inheritdoc cref="Lookup(in CanonicalUrl?, string?, TrustLevel, List{Match}, out int, PdqHash?, int, EmbeddingQuery?)"/>
    public Decision Lookup(
        in CanonicalUrl? url, string? sha256, TrustLevel minTrustForGrants, List<Match> matches,
        PdqHash? pdq = null, int pdqMaxDistance = 31, EmbeddingQuery? embeddings = null) =>
        Lookup(url, sha256, minTrustForGrants, matches, out _, pdq, pdqMaxDistance, embeddings);

    /// <summary>
    /// The decision for a URL without listing its matches (the Spawning-compatible answer needs
    /// only train-ai); <paramref name="deciding"/> counts the deciding (claim, subject) pairs.
    /// </summary>
    public Decision Decide(in CanonicalUrl url, TrustLevel minTrustForGrants, out int deciding) =>
        Decide(new UrlProbe(url), minTrustForGrants, out deciding);

    /// <inheritdoc cref="Decide(in CanonicalUrl, TrustLevel, out int)"/>
    public Decision Decide(in UrlProbe url, TrustLevel minTrustForGrants, out int deciding) =>
        Find(url, null, null, 0, null, minTrustForGrants, null, out deciding);

    /// <summary>
    /// Near-duplicate search (DESIGN.md 5.7): the claims other than <paramref name="party"/>'s that an
    /// image fingerprint matches, as a lookup finds them (superseded ones left out), at most
    /// <paramref name="limit"/>, strongest trust and newest first. Unlike a lookup's listing, the
    /// party's own claims are left out before the cut: sixteen of them on nearby hashes filled a
    /// lookup's listing, and another party's claim on the same picture was never seen.
    /// </summary>
    public void FindOtherParties(PdqHash? pdq, int pdqMaxDistance, EmbeddingQuery? embeddings, int party, int limit, List<Match> matches)
    {
        matches.Clear();
        Find(default, null, pdq, pdqMaxDistance, embeddings, TrustLevel.Signed, matches, out _, party, limit);
    }

    /// <summary>Lookups ahead of the current one whose cache lines <see cref="PrefetchAhead"/> asks for, per step.</summary>
    public const int PrefetchDistance = 2;

    /// <summary>
    /// Call before looking up <paramref name="probes"/>[<paramref name="at"/>] in a run of lookups
    /// made in order: asks for the bucket directory lines of the lookup <see cref="PrefetchDistance"/>
    /// × 2 ahead (its URL, host and first parent domain keys, and its authority's prefix-length
    /// slot), and reads the directory (asked for one step earlier) to ask for the entry lines of the
    /// lookup <see cref="PrefetchDistance"/> ahead. A lookup in a large index otherwise waits on two
    /// or three cache misses a key table in turn; this way the misses of several lookups overlap
    /// (decision record 17). Hold the read lock, as for the lookup itself; prefetching changes
    /// nothing and never faults.
    /// </summary>
    public void PrefetchAhead(ReadOnlySpan<UrlProbe> probes, int at)
    {
        if (at == 0)
        {
            for (var i = 0; i < Math.Min(2 * PrefetchDistance, probes.Length); i++)
            {
                Prefetch(probes[i], entries: false);
            }
        }

        if (at + (2 * PrefetchDistance) < probes.Length)
        {
            Prefetch(probes[at + (2 * PrefetchDistance)], entries: false);
        }

        if (at + PrefetchDistance < probes.Length)
        {
            Prefetch(probes[at + PrefetchDistance], entries: true);
        }
    }

    /// <summary>One step of <see cref="PrefetchAhead"/> for one lookup: the directory lines, or (<paramref name="entries"/>) the entry lines.</summary>
    private void Prefetch(in UrlProbe probe, bool entries)
    {
        if (probe.IsEmpty)
        {
            return;
        }

        Prefetch(_urls, probe.UrlKey, entries);
        if (_prefixLengths.Count > 0)
        {
            if (entries)
            {
                _prefixLengths.PrefetchLengths(probe.AuthorityKey);
            }
            else
            {
                _prefixLengths.Prefetch(probe.AuthorityKey);
            }
        }

        if (_hosts.Count > 0)
        {
            Prefetch(_hosts, probe.HostKey, entries);
            if (probe.HasParentDomain)
            {
                Prefetch(_hosts, probe.ParentKey, entries);
            }
        }
    }

    private static void Prefetch(KeyTable table, UInt128 key, bool entries)
    {
        if (entries)
        {
            table.PrefetchEntries(Key80.Of(key));
        }
        else
        {
            table.PrefetchBuckets(Key80.Of(key));
        }
    }

    // The candidate buffers (about 1.6 KB) are written before they are read: zeroing them took
    // more time than a lookup that finds nothing (docs/benchmarks.md, "consent-registry filter").
    [SkipLocalsInit]
    private Decision Find(
        in UrlProbe url, string? sha256, PdqHash? pdq, int pdqMaxDistance, EmbeddingQuery? embeddings, TrustLevel minTrustForGrants, List<Match>? matches, out int more,
        int leftOutParty = -1, int listLimit = MaxListedMatches)
    {
        Span<Candidate> buffer = stackalloc Candidate[32];
        Span<HotRef> hotBuffer = stackalloc HotRef[8];
        var candidates = new CandidateList(buffer, hotBuffer);
        try
        {
            if (!url.IsEmpty)
            {
                Collect(_urls, url.UrlKey, MatchKind.Url, ref candidates);
                CollectPrefixes(url, ref candidates);
                CollectHosts(url, ref candidates);
            }

            if (sha256 is not null)
            {
                Collect(_sha256, Fingerprint.Of(sha256), MatchKind.Sha256, ref candidates);
            }

            if (pdq is { } hash)
            {
                CollectPdq(hash, pdqMaxDistance, ref candidates);
            }

            if (embeddings is not null)
            {
                CollectEmbeddings(embeddings, ref candidates);
            }

            return Resolve(candidates.Items, candidates.HotKeys, minTrustForGrants, matches, out more, leftOutParty, listLimit);
        }
        finally
        {
            candidates.Dispose();
        }
    }

    /// <summary>
    /// The decision from the candidates and hot keys; with <paramref name="matches"/>, the listing too (else <paramref name="more"/> counts every deciding pair):
    /// at most <paramref name="listLimit"/>, none of <paramref name="leftOutParty"/>'s claims.
    /// </summary>
    private Decision Resolve(
        Span<Candidate> candidates, ReadOnlySpan<HotRef> hotKeys, TrustLevel minTrustForGrants, List<Match>? matches, out int more,
        int leftOutParty = -1, int listLimit = MaxListedMatches)
    {
        more = 0;
        if (candidates.IsEmpty && hotKeys.IsEmpty)
        {
            return Decision.Unknown;
        }

        // Latest iat (then seq) per party and subject; the others drop out. Keys with many
        // postings are hot and resolved already (MatchingIndex.HotKeys.cs), so this stays small,
        // except for PDQ hits, which are sorted when there are many.
        MarkSuperseded(candidates);

        Span<Permission> permissions = stackalloc Permission[UseCategories.All.Count];
        var total = 0;
        foreach (ref readonly var candidate in candidates)
        {
            if (candidate.Superseded)
            {
                continue;
            }

            total++;
            var usage = _claims.Usage(candidate.Claim);
            var trust = _claims.Trust(candidate.Claim);
            for (var category = 0; category < permissions.Length; category++)
            {
                var preference = usage[category];
                if (preference == Preference.No)
                {
                    permissions[category] = Permission.Disallow;
                }
                else if (preference == Preference.Yes && trust >= minTrustForGrants && permissions[category] != Permission.Disallow)
                {
                    permissions[category] = Permission.Allow;
                }
            }

            if (leftOutParty < 0 || _claims.Party(candidate.Claim) != leftOutParty)
            {
                matches?.Add(new Match(candidate.Claim, candidate.By, candidate.Distance, candidate.Similarity));
            }
        }

        var hotLeftOut = false;
        foreach (var hotRef in hotKeys)
        {
            var hot = _hotKeys[hotRef.Number];
            var view = hotRef.SubdomainsOnly ? hot.SubdomainsOnly : hot.All;
            view.AddVotes(permissions, minTrustForGrants);
            total += view.Count;
            hotLeftOut |= view.Count > listLimit;
            if (matches is null)
            {
                continue;
            }

            var taken = 0;
            foreach (var claim in view.Ordered)
            {
                if (leftOutParty >= 0 && _claims.Party(claim) == leftOutParty)
                {
                    continue;
                }

                if (taken++ == listLimit)
                {
                    break;
                }

                matches.Add(new Match(claim, hot.By));
            }
        }

        if (matches is null)
        {
            more = total;
            return Decision.From(permissions);
        }

        if (matches.Count > 1)
        {
            OnePerClaimAndKind(matches);
            matches.Sort(_listingOrder ??= CompareListing);
        }

        var truncated = matches.Count > listLimit;
        if (truncated)
        {
            matches.RemoveRange(listLimit, matches.Count - listLimit);
        }

        if (truncated || hotLeftOut || total > matches.Count)
        {
            more = total - Covered(candidates, hotKeys, matches);
        }

        return Decision.From(permissions);
    }

    /// <summary>How many of the deciding (claim, subject) pairs the listed matches stand for.</summary>
    private int Covered(Span<Candidate> candidates, ReadOnlySpan<HotRef> hotKeys, List<Match> listed)
    {
        var covered = 0;
        foreach (ref readonly var candidate in candidates)
        {
            if (!candidate.Superseded && IsListed(listed, candidate.Claim, candidate.By))
            {
                covered++;
            }
        }

        foreach (var hotRef in hotKeys)
        {
            var hot = _hotKeys[hotRef.Number];
            var view = hotRef.SubdomainsOnly ? hot.SubdomainsOnly : hot.All;
            foreach (var match in listed)
            {
                if (match.By == hot.By && view.IsEffective(match.Claim, this))
                {
                    covered++;
                }
            }
        }

        return covered;
    }

    private static bool IsListed(List<Match> listed, int claim, MatchKind by)
    {
        foreach (var match in listed)
        {
            if (match.Claim == claim && match.By == by)
            {
                return true;
            }
        }

        return false;
    }

    private int CompareListing(Match a, Match b)
    {
        var byClaim = a.Claim == b.Claim ? 0 : CompareStrongestFirst(a.Claim, b.Claim);
        return byClaim != 0 ? byClaim : a.By.CompareTo(b.By);
    }

    private void Collect(KeyTable postings, UInt128 key, MatchKind by, ref CandidateList candidates, bool subdomainsOnly = false)
    {
        var shortKey = Key80.Of(key);
        if (_hotKeyNumbers.Count > 0 && _hotKeyNumbers.TryGetValue((by, shortKey), out var hot))
        {
            candidates.AddHot(new HotRef(hot, subdomainsOnly));
            return;
        }

        var values = postings.Find(shortKey);
        while (values.MoveNext())
        {
            var posting = values.Current;
            var claim = (int)(posting & ~IncludeSubdomainsBit);
            if ((subdomainsOnly && (posting & IncludeSubdomainsBit) == 0) || _claims.IsRevoked(claim))
            {
                continue;
            }

            candidates.Add(new Candidate(claim, by, key));
        }
    }

    private void CollectPrefixes(in UrlProbe probe, ref CandidateList candidates)
    {
        if (_prefixLengths.Count == 0 || !_prefixLengths.TryGet(probe.AuthorityKey, out var lengths))
        {
            return;
        }

        var url = probe.Url.Value;
        foreach (var length in lengths)
        {
            if (length > url.Length)
            {
                break;
            }

            Collect(_prefixes, Fingerprint.Of(url.AsSpan(0, length)), MatchKind.UrlPrefix, ref candidates);
        }
    }

    private void CollectHosts(in UrlProbe url, ref CandidateList candidates)
    {
        if (_hosts.Count == 0)
        {
            return;
        }

        Collect(_hosts, url.HostKey, MatchKind.Host, ref candidates);
        if (!url.HasParentDomain)
        {
            return;
        }

        // The parent domains: the first one's key is in the probe (asked for ahead), the others are few and shared.
        Collect(_hosts, url.ParentKey, MatchKind.Host, ref candidates, subdomainsOnly: true);
        var host = url.Url.Host[(url.Url.Host.IndexOf('.') + 1)..];
        for (var dot = host.IndexOf('.'); dot >= 0; dot = host.IndexOf('.'))
        {
            host = host[(dot + 1)..];
            Collect(_hosts, Fingerprint.Of(host), MatchKind.Host, ref candidates, subdomainsOnly: true);
        }
    }

    private void AddPrefix(string prefix, int claim)
    {
        var pathStart = CanonicalParts.PathStart(prefix);
        var authority = Fingerprint.Of(prefix.AsSpan(0, pathStart));
        Post(_prefixes, Fingerprint.Of(prefix), MatchKind.UrlPrefix, claim, false);

        _prefixLengths.Add(authority, prefix.Length);
    }

    private record struct Candidate(int Claim, MatchKind By, UInt128 Key, int Distance = 0)
    {
        public bool Superseded;

        /// <summary>An embedding match's cosine similarity.</summary>
        public float Similarity;
    }

    /// <summary>A hot key an item reached, and through which view (exact key, or parent domain of a host).</summary>
    private readonly record struct HotRef(int Number, bool SubdomainsOnly);

    /// <summary>Lists on the stack that move to the heap when an item has many matches or reaches many hot keys.</summary>
    private ref struct CandidateList(Span<Candidate> initial, Span<HotRef> initialHot)
    {
        private Span<Candidate> _items = initial;
        private Span<HotRef> _hot = initialHot;
        private Candidate[]? _rented;
        private int _count;
        private int _hotCount;

        public readonly Span<Candidate> Items => _items[.._count];

        public readonly ReadOnlySpan<HotRef> HotKeys => _hot[.._hotCount];

        public void AddHot(HotRef hot)
        {
            if (_hotCount == _hot.Length)
            {
                var bigger = new HotRef[_hot.Length * 2];
                _hot.CopyTo(bigger);
                _hot = bigger;
            }

            _hot[_hotCount++] = hot;
        }

        public void Add(Candidate candidate)
        {
            if (_count == _items.Length)
            {
                var bigger = System.Buffers.ArrayPool<Candidate>.Shared.Rent(_items.Length * 2);
                _items.CopyTo(bigger);
                if (_rented is not null)
                {
                    System.Buffers.ArrayPool<Candidate>.Shared.Return(_rented);
                }

                _rented = bigger;
                _items = bigger;
            }

            _items[_count++] = candidate;
        }

        public void Dispose()
        {
            if (_rented is not null)
            {
                System.Buffers.ArrayPool<Candidate>.Shared.Return(_rented);
            }
        }
    }
}

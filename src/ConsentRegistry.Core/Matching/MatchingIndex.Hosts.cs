using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Core.Matching;

// Per host, the claims whose url, url-prefix or host subjects sit on it and the last seq that
// touched it, for the crawler policy documents (docs/decisions/0005). A host is keyed by 32 bits
// of its fingerprint; a host subject with include_subdomains is keyed by 32 other bits of it (its
// subdomain key), the only key a subdomain looks up on its parent domains, so a parent's URL
// claims neither reach nor re-render its subdomains. The subjects stay in the store: a (key,
// claim) pair costs one 4-byte posting, the key itself, appended claim by claim, so a posting's
// claim is found from its position and a claim's keys from its range (PostingRanges: about a
// byte a claim); a key costs 12 bytes or so in a HostSeqTable. A render finds its postings by a
// vectorised scan of all of them (4 bytes each), small beside the store read and rendering that
// follow; an ETag needs only the table.
public sealed partial class MatchingIndex
{
    private readonly HashSet<uint> _claimHostScratch = [];
    private readonly HostSeqTable _hostSeqs = new();
    private uint[] _hostPostings = new uint[256];
    private int _hostPostingCount;
    private PostingRanges _claimHosts = new();

    /// <summary>
    /// The claims that may bear on <paramref name="host"/>'s policy documents (subjects on the host,
    /// and host subjects with include_subdomains on its parent domains), each once, and the last seq
    /// that touched any of them; 0 when none. Revoked claims are left out but still count for the seq.
    /// </summary>
    public long HostClaims(string host, List<ClaimEntry>? claims)
    {
        RefuseIfLookupsOnly();
        claims?.Clear();
        if (_hostSeqs.Count == 0)
        {
            return 0;
        }

        // A name of n characters has at most n / 2 parent domains; a canonical host has at most 253.
        Span<uint> keys = host.Length <= 512 ? stackalloc uint[2 + (host.Length / 2)] : new uint[2 + (host.Length / 2)];
        var found = 0;
        long last = 0;
        var fingerprint = Fingerprint.Of(host);
        Visit(HostKey(fingerprint), keys, ref found, ref last);
        Visit(SubdomainKey(fingerprint), keys, ref found, ref last);
        if (CanonicalParts.HasParentDomains(host))
        {
            ReadOnlySpan<char> name = host;
            for (var dot = name.IndexOf('.'); dot >= 0; dot = name.IndexOf('.'))
            {
                name = name[(dot + 1)..];
                Visit(SubdomainKey(Fingerprint.Of(name)), keys, ref found, ref last);
            }
        }

        if (claims is not null && found > 0)
        {
            AddClaimsOf(keys[..found], claims);
        }

        return last;
    }

    /// <summary>Gives growth slack back once the build from the store is done (<see cref="Compact"/>).</summary>
    private void TrimHostPostings()
    {
        Array.Resize(ref _hostPostings, _hostPostingCount);
        _claimHosts.TrimExcess();
    }

    private void Visit(uint key, Span<uint> keys, ref int found, ref long last)
    {
        if (_hostSeqs.TryGet(key, out var seq) && keys[..found].IndexOf(key) < 0)
        {
            keys[found++] = key;
            last = Math.Max(last, seq);
        }
    }

    private void AddClaimsOf(ReadOnlySpan<uint> keys, List<ClaimEntry> claims)
    {
        var postings = _hostPostings.AsSpan(0, _hostPostingCount);
        var found = new List<int>();
        foreach (var key in keys)
        {
            for (var at = postings.IndexOf(key); at >= 0;)
            {
                var claim = _claimHosts.ClaimOf(at);
                found.Add(claim);
                var next = _claimHosts.Range(claim).End; // a claim holds each key once: go on with the next claim
                var hit = postings[next..].IndexOf(key);
                at = hit < 0 ? -1 : next + hit;
            }
        }

        // A claim found through several keys (a subject on the host and a host subject on its parent) counts once.
        found.Sort();
        for (var i = 0; i < found.Count; i++)
        {
            if ((i == 0 || found[i] != found[i - 1]) && !_claims.IsRevoked(found[i]))
            {
                claims.Add(_claims[found[i]]);
            }
        }
    }

    /// <summary>Called by <see cref="Add"/> once the claim has its number.</summary>
    private void AddHostPostings(long seq, IReadOnlyList<Subject> subjects)
    {
        _claimHostScratch.Clear();
        var first = _hostPostingCount;
        foreach (var subject in subjects)
        {
            uint key;
            if (subject.Kind == SubjectKinds.Host)
            {
                var fingerprint = Fingerprint.Of(subject.Value);
                key = subject.IncludeSubdomains ? SubdomainKey(fingerprint) : HostKey(fingerprint);
            }
            else if (subject.Kind is SubjectKinds.Url or SubjectKinds.UrlPrefix && CanonicalParts.HostWithoutPort(subject.Value) is { IsEmpty: false } host)
            {
                key = HostKey(Fingerprint.Of(host));
            }
            else
            {
                continue;
            }

            if (_claimHostScratch.Add(key))
            {
                EnsureLength(ref _hostPostings, _hostPostingCount + 1);
                _hostPostings[_hostPostingCount++] = key;
                _hostSeqs.Raise(key, seq);
            }
        }

        _claimHosts.Append(_hostPostingCount - first);
    }

    // Two hosts whose keys collide share postings: a few needless re-renders, nothing else, because
    // the policy resolver keeps only subjects on the host it renders. 0 is the table's empty slot.
    private static uint HostKey(UInt128 fingerprint) => Math.Max((uint)fingerprint, 1u);

    private static uint SubdomainKey(UInt128 fingerprint) => Math.Max((uint)(fingerprint >> 32), 1u);

    /// <summary>A revocation or trust change of <paramref name="claim"/> changes its hosts' documents.</summary>
    private void TouchClaimHosts(int claim, long seq)
    {
        var (start, end) = _claimHosts.Range(claim);
        for (var posting = start; posting < end; posting++)
        {
            _hostSeqs.Raise(_hostPostings[posting], seq);
        }
    }

    private static void EnsureLength<T>(ref T[] array, int length)
    {
        if (array.Length < length)
        {
            Array.Resize(ref array, Math.Max(length, array.Length + (array.Length / 2))); // 1.5x: less slack than doubling
        }
    }
}

using System.Runtime.InteropServices;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Core.Matching;

// Derived fingerprints (DESIGN.md 5.7): the SHA-256, PDQ and embeddings the worker computed from
// the image behind one of a claim's URLs. Each set is an entry of its own beside the claim's (same
// id, party, iat, usage, trust), so it matches like signed subjects and resolves with the same
// rules, and a match through it can name the URL it came from. A later set for the same URL
// replaces the earlier one; revocations and trust changes of the claim reach its sets too.
public sealed partial class MatchingIndex
{
    private readonly Dictionary<int, List<int>> _derivedSets = [];
    private readonly Dictionary<int, DerivedSource> _derivedSources = [];
    private int _derivedEntries;

    /// <summary>Entries that hold derived fingerprints, replaced ones included: <see cref="ClaimCount"/> less these is the number of claims.</summary>
    public int DerivedEntryCount => _derivedEntries;

    /// <summary>The claimed URL whose image gave entry <paramref name="entry"/>'s fingerprints; null for a claim's own subjects.</summary>
    public string? DerivedFrom(int entry) => _derivedSources.TryGetValue(entry, out var source) ? source.Url : null;

    /// <summary>
    /// Applies one derived set (a log entry at <see cref="DerivedFingerprints.Seq"/>): it replaces
    /// the set derived earlier from the same URL. False when the claim is not in the index.
    /// </summary>
    public bool AddDerived(DerivedFingerprints derived)
    {
        RefuseIfLookupsOnly();
        MarkApplied(derived.Seq);
        if (!TryFindClaim(derived.ClaimId, out var claim))
        {
            return false;
        }

        ref var sets = ref CollectionsMarshal.GetValueRefOrAddDefault(_derivedSets, claim, out _);
        sets ??= [];
        foreach (var set in sets)
        {
            var source = _derivedSources[set];
            if (source.Url != derived.Url)
            {
                continue;
            }

            if (source.Seq >= derived.Seq)
            {
                return true; // this set or a newer one is applied already
            }

            sets.Remove(set);
            _derivedSources.Remove(set);
            Update(set, _claims[set] with { Revoked = true });
            break;
        }

        if (derived.Subjects.Count == 0)
        {
            return true;
        }

        var entry = AddEntry(_claims[claim] with { Trust = DerivedTrust(_claims[claim].Trust) }, derived.Subjects);
        _derivedEntries++;
        _derivedSources[entry] = new DerivedSource(derived.Url, derived.Seq);
        _stringBytes += StringBytes(derived.Url);
        sets.Add(entry);
        return true;
    }

    /// <summary>
    /// The trust of fingerprints derived from a claim at <paramref name="claim"/>: its own, except
    /// that a domain-verified claim's count as signed. A verified host vouches for the URLs on it,
    /// not for the picture wherever it is copied (decision record 6: no host vouches for a hash);
    /// otherwise anyone who verified a throwaway domain could post a copy of another artist's
    /// image there and make a consent count for its hashes everywhere. Opt-outs count either way.
    /// </summary>
    public static TrustLevel DerivedTrust(TrustLevel claim) => claim == TrustLevel.Domain ? TrustLevel.Signed : claim;

    /// <summary>A revocation or trust change of a claim, carried to its derived sets.</summary>
    private void UpdateDerived(int claim, Func<ClaimEntry, ClaimEntry> change)
    {
        if (!_derivedSets.TryGetValue(claim, out var sets))
        {
            return;
        }

        foreach (var set in sets)
        {
            Update(set, change(_claims[set]));
        }
    }

    /// <summary>Replaces an entry's state, keeping the hot keys it sits on in step.</summary>
    private void Update(int entry, ClaimEntry updated)
    {
        var hotKeys = WithdrawFromHotKeys(entry);
        _claims.Set(entry, updated);
        RestoreToHotKeys(hotKeys, entry);
    }

    private readonly record struct DerivedSource(string Url, long Seq);
}

/// <summary>Fingerprints the registry derived from the image behind <see cref="Url"/>, a URL subject of claim <see cref="ClaimId"/>.</summary>
public sealed record DerivedFingerprints(string ClaimId, string Url, long Seq, IReadOnlyList<Subject> Subjects);

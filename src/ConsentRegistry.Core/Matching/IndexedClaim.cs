using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Core.Matching;

/// <summary>A claim as the matching index receives it from the log.</summary>
public sealed record IndexedClaim(
    string Id,
    long Seq,
    string Party,
    long Iat,
    Usage Usage,
    TrustLevel Trust,
    bool Revoked,
    IReadOnlyList<Subject> Subjects);

/// <summary>A claim's values as the index gives them out (it keeps them as an id and a packed row: <see cref="ClaimTable"/>).</summary>
public readonly record struct ClaimEntry(ClaimKey Key, long Seq, int Party, long Iat, Usage Usage, TrustLevel Trust, bool Revoked)
{
    /// <summary>The claim id as 64 hex characters (a new string each time).</summary>
    public string Id => Key.ToString();
}

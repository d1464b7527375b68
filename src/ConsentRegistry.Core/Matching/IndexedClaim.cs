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

/// <summary>What the index keeps of a claim: one small struct, no per-subject objects.</summary>
public readonly record struct ClaimEntry(string Id, long Seq, int Party, long Iat, Usage Usage, TrustLevel Trust, bool Revoked);

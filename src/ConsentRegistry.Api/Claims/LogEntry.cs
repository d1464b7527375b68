using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// One entry of the registry's log. The set is closed (the constructor is private): every switch
/// over entries names the three kinds and nothing else can appear.
/// </summary>
public abstract record LogEntry
{
    private LogEntry()
    {
    }

    /// <summary>The id of the claim the entry adds, revokes or changes.</summary>
    public string ClaimKey => this switch
    {
        Claim claim => claim.Verified.Id,
        Revocation revocation => revocation.Verified.Revokes,
        TrustChange change => change.ClaimId,
        _ => throw new System.Diagnostics.UnreachableException(),
    };

    /// <summary>A verified claim, new to the log unless its JWS or signed content is already there.</summary>
    public sealed record Claim(VerifiedClaim Verified) : LogEntry;

    /// <summary>A verified revocation of one of its signer's claims.</summary>
    public sealed record Revocation(VerifiedRevocation Verified) : LogEntry;

    /// <summary>
    /// A trust change: operator review or domain verification. With <see cref="OnlyFrom"/> it
    /// applies only to an unrevoked claim still at that level (so verification never lowers a
    /// review that landed in between). With <see cref="WhenVouchedFor"/> it applies only if the
    /// party's verified hosts, read in the writer's transaction, vouch for the claim (true) or no
    /// longer do (false): a replica acting on a stale read of the hosts changes nothing.
    /// </summary>
    public sealed record TrustChange(string ClaimId, TrustLevel Trust, string Reason, TrustLevel? OnlyFrom = null, bool? WhenVouchedFor = null) : LogEntry;
}

public enum AppendStatus
{
    Created,
    AlreadyExists,
    ClaimNotFound,
    NotClaimOwner,
    AlreadyRevoked,
    Unchanged,
}

/// <summary>
/// What happened to one log entry. <see cref="Seq"/> is the entry's number (or the existing one's);
/// <see cref="ClaimId"/> the id under which the claim is stored (an earlier JWS of the same signed
/// content keeps its id).
/// </summary>
public sealed record AppendResult(AppendStatus Status, long Seq = 0, TrustLevel Trust = default, string? RevocationId = null, string? ClaimId = null);

/// <summary>An entry as committed, with its seq.</summary>
public readonly record struct CommittedEntry(long Seq, LogEntry Entry);

/// <summary>One committed transaction of the log: seqs <see cref="FirstSeq"/> to <see cref="LastSeq"/>.</summary>
public sealed record CommittedBatch(long FirstSeq, long LastSeq, IReadOnlyList<CommittedEntry> Entries);

/// <summary>
/// Told of each commit before its callers are answered (the matching index applies it at once,
/// so a client reads its own write). A listener that throws does not undo the commit.
/// </summary>
public interface ICommittedLogListener
{
    void OnCommitted(CommittedBatch batch);

    /// <summary>
    /// Told on the writer's thread once a batch's callers are answered and no small entry waits
    /// (or <see cref="ClaimWriter.MaxCatchUpDelay"/> has passed since the first batch it was put
    /// off for): work a commit made due
    /// that no caller needs to wait for (the matching index's merges) is done here, not in
    /// <see cref="OnCommitted"/>, so that an artist's claim queued behind a large one is not held
    /// for it too.
    /// </summary>
    void OnCallersAnswered()
    {
    }
}

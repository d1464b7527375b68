using System.Data.Common;
using Dapper;

namespace ConsentRegistry.Api.Storage;

/// <summary>
/// The queue of aligned verifications (<c>near_duplicate_checks</c>, DESIGN.md 5.7): candidate pairs of claimed
/// pictures that the embeddings propose, written by the pair recorder with its pass, one row per pair of claimed
/// URLs whichever proposed it (claims in text order); taken by the workers under a lease (PostgreSQL:
/// <c>FOR UPDATE SKIP LOCKED</c>, so several workers share it and none runs a check another holds), retried with
/// backoff, a final failure kept with its reason and tried again after the re-fetch interval. A check that finds a
/// copy writes its pair, match kind <c>aligned</c>, in the transaction that marks it done; the checks of revoked
/// claims are dropped.
/// </summary>
public sealed class NearDuplicateCheckStore(RegistryDatabase database)
{
    /// <summary>Checks of revoked claims one <see cref="DropRevokedAsync"/> drops at most.</summary>
    private const int DropsPerPass = 500;

    public const string InterruptedError = "interrupted: The worker that took it stopped before its try ended.";

    // Not yet done and due, and not leased (or the lease has passed: its worker died). A check still leased when
    // taken says so until its try ends. Checks of revoked claims are passed by (DropRevokedAsync drops them).
    private readonly string _take = $"""
        UPDATE near_duplicate_checks
        SET lease_owner = @owner, lease_until = {database.NowMilliseconds} + @leaseMs, attempts = attempts + 1,
            error = CASE WHEN lease_owner IS NOT NULL THEN @interrupted ELSE error END
        WHERE (claim_a, url_a, claim_b, url_b) IN (
            SELECT k.claim_a, k.url_a, k.claim_b, k.url_b FROM near_duplicate_checks k
            WHERE k.status <> 'done' AND k.due_at <= {database.NowMilliseconds}
              AND (k.lease_until IS NULL OR k.lease_until < {database.NowMilliseconds})
              AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.id IN (k.claim_a, k.claim_b) AND c.revoked_seq IS NOT NULL)
            ORDER BY k.due_at, k.found_seq
            LIMIT @limit{database.TakeRows})
          AND status <> 'done' AND due_at <= {database.NowMilliseconds} AND (lease_until IS NULL OR lease_until < {database.NowMilliseconds})
        RETURNING claim_a, url_a, claim_b, url_b, similarity, conflict, attempts, found_seq
        """;

    private readonly string _dropRevoked = $"""
        DELETE FROM near_duplicate_checks WHERE (claim_a, url_a, claim_b, url_b) IN (
            SELECT k.claim_a, k.url_a, k.claim_b, k.url_b FROM near_duplicate_checks k
            WHERE k.status <> 'done'
              AND EXISTS (SELECT 1 FROM claims c WHERE c.id IN (k.claim_a, k.claim_b) AND c.revoked_seq IS NOT NULL)
            LIMIT {DropsPerPass}{database.TakeRows})
        """;

    private const string EitherRevoked = """
        SELECT COUNT(*) FROM claims WHERE id IN (@ClaimA, @ClaimB) AND revoked_seq IS NOT NULL
        """;

    private const string DeleteLeased = """
        DELETE FROM near_duplicate_checks
        WHERE claim_a = @ClaimA AND url_a = @UrlA AND claim_b = @ClaimB AND url_b = @UrlB AND lease_owner = @owner
        """;

    // A result for a check proposed again while it ran (found_seq moved on: one of the pictures changed) is not
    // the new pictures': the check only gives its lease back, and is taken again, due at once.
    private const string MarkDone = """
        UPDATE near_duplicate_checks
        SET status = 'done', is_copy = @isCopy, attempts = 0, error = NULL, lease_owner = NULL, lease_until = NULL
        WHERE claim_a = @ClaimA AND url_a = @UrlA AND claim_b = @ClaimB AND url_b = @UrlB AND lease_owner = @owner AND found_seq = @FoundSeq
        """;

    private const string Release = """
        UPDATE near_duplicate_checks SET lease_owner = NULL, lease_until = NULL
        WHERE claim_a = @ClaimA AND url_a = @UrlA AND claim_b = @ClaimB AND url_b = @UrlB AND lease_owner = @owner
        """;

    // A final failure starts the count again for the try after the re-fetch interval, as a fingerprint job's does.
    private readonly string _markFailed = $"""
        UPDATE near_duplicate_checks
        SET status = CASE WHEN @final THEN 'failed' ELSE status END,
            attempts = CASE WHEN @final THEN 0 WHEN @givenBack AND attempts > 0 THEN attempts - 1 ELSE attempts END,
            error = @error, due_at = {database.NowMilliseconds} + @waitMs, lease_owner = NULL, lease_until = NULL
        WHERE claim_a = @ClaimA AND url_a = @UrlA AND claim_b = @ClaimB AND url_b = @UrlB AND lease_owner = @owner AND found_seq = @FoundSeq
        """;

    private readonly string _renew = $"""
        UPDATE near_duplicate_checks SET lease_until = {database.NowMilliseconds} + @leaseMs
        WHERE claim_a = @ClaimA AND url_a = @UrlA AND claim_b = @ClaimB AND url_b = @UrlB AND lease_owner = @owner
        """;

    private const string InsertPair = """
        INSERT INTO near_duplicate_pairs (claim_a, claim_b, match_kind, distance, similarity, conflict, found_seq, found_at)
        VALUES (@ClaimA, @ClaimB, 'aligned', @Distance, NULL, @Conflict, @FoundSeq, @FoundAt)
        ON CONFLICT DO NOTHING
        """;

    // Two claims already recorded as a pair leave nothing to verify. A check proposed again by a newer derived set
    // (one of the pictures changed) is due again, whatever its state: one running meanwhile (leased) keeps its lease,
    // and its result, for the older pictures, is not recorded (MarkDone and _markFailed check found_seq).
    private readonly string _insert = $"""
        INSERT INTO near_duplicate_checks (claim_a, url_a, claim_b, url_b, similarity, conflict, due_at, found_seq)
        SELECT @ClaimA, @UrlA, @ClaimB, @UrlB, @Similarity, @Conflict, {database.NowMilliseconds}, @FoundSeq
        WHERE NOT EXISTS (SELECT 1 FROM near_duplicate_pairs p WHERE p.claim_a = @ClaimA AND p.claim_b = @ClaimB)
        ON CONFLICT (claim_a, url_a, claim_b, url_b) DO UPDATE
        SET status = 'pending', is_copy = NULL, attempts = 0, error = NULL, similarity = excluded.similarity,
            due_at = excluded.due_at, found_seq = excluded.found_seq
        WHERE near_duplicate_checks.found_seq < excluded.found_seq
        """;

    /// <summary>
    /// Queues <paramref name="checks"/> (their claims in text order) in the recorder's transaction, due now; two
    /// claims already recorded as a pair are passed by, and so is a check already queued, unless this one was
    /// proposed by a newer derived set (it is then due again, whatever its state). Returns how many rows were written.
    /// </summary>
    internal async Task<int> InsertAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<CheckRow> checks, CancellationToken cancellationToken)
    {
        var inserted = 0;
        foreach (var check in checks)
        {
            if (string.CompareOrdinal(check.ClaimA, check.ClaimB) >= 0)
            {
                throw new ArgumentException("A check names its claims in text order.", nameof(checks));
            }

            inserted += await connection.ExecuteAsync(new CommandDefinition(_insert, check, transaction, cancellationToken: cancellationToken));
        }

        return inserted;
    }

    /// <summary>
    /// Drops up to 500 checks, not yet done, of claims revoked since they were proposed (the take passes them by
    /// meanwhile); returns how many. Reads every check not yet done: the worker runs it now and then, not every take.
    /// </summary>
    public async Task<int> DropRevokedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        var dropped = await connection.ExecuteAsync(new CommandDefinition(_dropRevoked, transaction: transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return dropped;
    }

    /// <summary>
    /// Leases up to <paramref name="limit"/> due checks to <paramref name="owner"/> for <paramref name="lease"/>, counting a
    /// try of each, those one derived set proposed together first.
    /// </summary>
    public async Task<IReadOnlyList<CheckRow>> TakeAsync(string owner, int limit, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        var taken = await connection.QueryAsync<CheckRow>(new CommandDefinition(_take,
            new { owner, limit, leaseMs = (long)lease.TotalMilliseconds, interrupted = InterruptedError }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return taken.AsList();
    }

    /// <summary>
    /// Marks a check done and, when the images were found to be copies, records the pair (match kind
    /// <c>aligned</c>, the aligned PDQ distance) in the same transaction. False, and no verdict recorded, when the
    /// check is no longer <paramref name="owner"/>'s (its lease passed and another worker took it), when one of its
    /// claims has been revoked meanwhile (the check is dropped), or when it was proposed again while it ran (its
    /// lease is given back and it is due again).
    /// </summary>
    public async Task<bool> CompleteAsync(string owner, CheckRow check, int? alignedDistance, long foundAt, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        var args = new DynamicParameters(check);
        args.Add("owner", owner);
        args.Add("isCopy", alignedDistance is null ? 0 : 1);
        if (await connection.ExecuteScalarAsync<long>(new CommandDefinition(EitherRevoked, args, transaction, cancellationToken: cancellationToken)) > 0)
        {
            await connection.ExecuteAsync(new CommandDefinition(DeleteLeased, args, transaction, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
            return false;
        }

        if (await connection.ExecuteAsync(new CommandDefinition(MarkDone, args, transaction, cancellationToken: cancellationToken)) == 0)
        {
            // Not ours any more, or proposed again while it ran: give the lease back (if still ours) and record nothing.
            await connection.ExecuteAsync(new CommandDefinition(Release, args, transaction, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
            return false;
        }

        if (alignedDistance is { } distance)
        {
            var (a, b) = string.CompareOrdinal(check.ClaimA, check.ClaimB) < 0 ? (check.ClaimA, check.ClaimB) : (check.ClaimB, check.ClaimA);
            await connection.ExecuteAsync(new CommandDefinition(InsertPair,
                new PairRow(a, b, "aligned", distance, null, check.Conflict, check.FoundSeq, foundAt), transaction, cancellationToken: cancellationToken));
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Records a failed try: due again <paramref name="retryIn"/> from now, or failed for good when
    /// <paramref name="final"/>; <paramref name="givenBack"/> gives back the try its taking counted (the check was not tried).
    /// </summary>
    public async Task FailAsync(string owner, CheckRow check, string error, bool final, bool givenBack, TimeSpan retryIn, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var args = new DynamicParameters(check);
        args.Add("owner", owner);
        args.Add("error", error);
        args.Add("final", final);
        args.Add("givenBack", givenBack);
        args.Add("waitMs", Math.Max(0, (long)retryIn.TotalMilliseconds));
        if (await connection.ExecuteAsync(new CommandDefinition(_markFailed, args, cancellationToken: cancellationToken)) == 0)
        {
            await connection.ExecuteAsync(new CommandDefinition(Release, args, cancellationToken: cancellationToken)); // proposed again while it ran
        }
    }

    /// <summary>Extends to <paramref name="lease"/> from now the leases of those of <paramref name="checks"/> still <paramref name="owner"/>'s.</summary>
    public async Task RenewAsync(string owner, IReadOnlyList<CheckRow> checks, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        foreach (var check in checks)
        {
            var args = new DynamicParameters(check);
            args.Add("owner", owner);
            args.Add("leaseMs", (long)lease.TotalMilliseconds);
            await connection.ExecuteAsync(new CommandDefinition(_renew, args, cancellationToken: cancellationToken));
        }
    }
}

/// <summary>A check as queued and taken: claim A's picture (at <see cref="UrlA"/>) against claim B's (at <see cref="UrlB"/>); A sorts before B.</summary>
public sealed record CheckRow
{
    public required string ClaimA { get; init; }
    public required string UrlA { get; init; }
    public required string ClaimB { get; init; }
    public required string UrlB { get; init; }
    public double Similarity { get; init; }
    public int Conflict { get; init; }
    public int Attempts { get; init; }
    public long FoundSeq { get; init; }
}

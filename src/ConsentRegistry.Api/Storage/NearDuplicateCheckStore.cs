using System.Data.Common;
using Dapper;

namespace ConsentRegistry.Api.Storage;

/// <summary>
/// The queue of aligned verifications (<c>near_duplicate_checks</c>, DESIGN.md 5.7): candidate pairs of claimed
/// images that the embeddings propose, written by the pair recorder with its pass; taken by the workers under a
/// lease (PostgreSQL: <c>FOR UPDATE SKIP LOCKED</c>, so several workers share it and none runs a check another
/// holds), retried with backoff, the last failure kept. A check that finds a copy writes its pair, match kind
/// <c>aligned</c>, in the transaction that marks it done.
/// </summary>
public sealed class NearDuplicateCheckStore(RegistryDatabase database)
{
    // Checks of revoked claims are passed by, whenever the revocation came; a pair already recorded for
    // the two claims (by PDQ or an embedding, or by another check) leaves nothing to verify.
    private readonly string _take = $"""
        UPDATE near_duplicate_checks
        SET lease_owner = @owner, lease_until = {database.NowMilliseconds} + @leaseMs, attempts = attempts + 1
        WHERE (claim_a, url_a, claim_b, url_b) IN (
            SELECT k.claim_a, k.url_a, k.claim_b, k.url_b FROM near_duplicate_checks k
            WHERE k.status = 'pending' AND k.due_at <= {database.NowMilliseconds}
              AND (k.lease_until IS NULL OR k.lease_until < {database.NowMilliseconds})
              AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.id IN (k.claim_a, k.claim_b) AND c.revoked_seq IS NOT NULL)
            ORDER BY k.due_at
            LIMIT @limit{database.TakeRows})
          AND status = 'pending' AND due_at <= {database.NowMilliseconds} AND (lease_until IS NULL OR lease_until < {database.NowMilliseconds})
        RETURNING claim_a, url_a, claim_b, url_b, similarity, conflict, attempts, found_seq
        """;

    private const string MarkDone = """
        UPDATE near_duplicate_checks
        SET status = 'done', is_copy = @isCopy, error = NULL, lease_owner = NULL, lease_until = NULL
        WHERE claim_a = @ClaimA AND url_a = @UrlA AND claim_b = @ClaimB AND url_b = @UrlB AND lease_owner = @owner
        """;

    private readonly string _markFailed = $"""
        UPDATE near_duplicate_checks
        SET status = CASE WHEN @final THEN 'failed' ELSE 'pending' END,
            attempts = CASE WHEN @givenBack AND attempts > 0 THEN attempts - 1 ELSE attempts END,
            error = @error, due_at = {database.NowMilliseconds} + @waitMs, lease_owner = NULL, lease_until = NULL
        WHERE claim_a = @ClaimA AND url_a = @UrlA AND claim_b = @ClaimB AND url_b = @UrlB AND lease_owner = @owner
        """;

    private const string InsertPair = """
        INSERT INTO near_duplicate_pairs (claim_a, claim_b, match_kind, distance, similarity, conflict, found_seq, found_at)
        VALUES (@ClaimA, @ClaimB, 'aligned', @Distance, NULL, @Conflict, @FoundSeq, @FoundAt)
        ON CONFLICT DO NOTHING
        """;

    // Pairs are stored with their claims in text order; a check names its claims as proposed.
    private readonly string _insert = $"""
        INSERT INTO near_duplicate_checks (claim_a, url_a, claim_b, url_b, similarity, conflict, due_at, found_seq)
        SELECT @ClaimA, @UrlA, @ClaimB, @UrlB, @Similarity, @Conflict, {database.NowMilliseconds}, @FoundSeq
        WHERE NOT EXISTS (SELECT 1 FROM near_duplicate_pairs p
                          WHERE (p.claim_a = @ClaimA AND p.claim_b = @ClaimB) OR (p.claim_a = @ClaimB AND p.claim_b = @ClaimA))
        ON CONFLICT DO NOTHING
        """;

    /// <summary>
    /// Queues <paramref name="checks"/> in the recorder's transaction, due now; a check already queued (whatever its
    /// state) and two claims already recorded as a pair are passed by. Returns how many were queued.
    /// </summary>
    internal async Task<int> InsertAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<CheckRow> checks, CancellationToken cancellationToken)
    {
        var inserted = 0;
        foreach (var check in checks)
        {
            inserted += await connection.ExecuteAsync(new CommandDefinition(_insert, check, transaction, cancellationToken: cancellationToken));
        }

        return inserted;
    }

    /// <summary>Leases up to <paramref name="limit"/> due checks to <paramref name="owner"/> for <paramref name="lease"/>, counting a try of each.</summary>
    public async Task<IReadOnlyList<CheckRow>> TakeAsync(string owner, int limit, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        var taken = await connection.QueryAsync<CheckRow>(new CommandDefinition(_take,
            new { owner, limit, leaseMs = (long)lease.TotalMilliseconds }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return taken.AsList();
    }

    /// <summary>
    /// Marks a check done and, when the images were found to be copies, records the pair (match kind
    /// <c>aligned</c>, the aligned PDQ distance) in the same transaction. False, and nothing written, when the
    /// check is no longer <paramref name="owner"/>'s (its lease passed and another worker took it).
    /// </summary>
    public async Task<bool> CompleteAsync(string owner, CheckRow check, int? alignedDistance, long foundAt, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        var args = new DynamicParameters(check);
        args.Add("owner", owner);
        args.Add("isCopy", alignedDistance is null ? 0 : 1);
        if (await connection.ExecuteAsync(new CommandDefinition(MarkDone, args, transaction, cancellationToken: cancellationToken)) == 0)
        {
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
        await connection.ExecuteAsync(new CommandDefinition(_markFailed, args, cancellationToken: cancellationToken));
    }

    /// <summary>The checks a claim took part in, either side, as tests and operators read them.</summary>
    public async Task<IReadOnlyList<CheckState>> ListAsync(string claimId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<CheckState>(new CommandDefinition("""
            SELECT claim_a, url_a, claim_b, url_b, status, is_copy, attempts, error FROM near_duplicate_checks
            WHERE claim_a = @claimId OR claim_b = @claimId ORDER BY found_seq, claim_b, url_b
            """, new { claimId }, cancellationToken: cancellationToken))).AsList();
    }
}

/// <summary>A check as queued and taken: claim A's image (at <see cref="UrlA"/>) against claim B's (at <see cref="UrlB"/>).</summary>
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

/// <summary>Where a check stands.</summary>
public sealed record CheckState
{
    public required string ClaimA { get; init; }
    public required string UrlA { get; init; }
    public required string ClaimB { get; init; }
    public required string UrlB { get; init; }
    public required string Status { get; init; }
    public int? IsCopy { get; init; }
    public int Attempts { get; init; }
    public string? Error { get; init; }
}

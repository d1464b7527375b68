using System.Data.Common;
using System.Security.Cryptography;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;
using Dapper;

namespace ConsentRegistry.Api.Verification;

/// <summary>The <c>domain_verifications</c> table and the claim reads the verifier needs.</summary>
public sealed class DomainVerificationStore(RegistryDatabase database)
{
    public const string Verified = "verified";
    public const string Lapsed = "lapsed";

    private const string CountOtherVerifiedHosts = $"""
        SELECT count(*) FROM domain_verifications WHERE party = @party AND status = '{Verified}' AND host <> @host
        """;

    private const string SelectStatus = "SELECT status FROM domain_verifications WHERE party = @party AND host = @host";

    // Every write of a row moves last_checked_at forward, by at least 1 even within one second: a
    // re-check that took the row before this write then sees it changed and leaves the row alone.
    // (The one step back is GiveBack's, which only undoes a take that nothing followed.)
    private const string Upsert = $"""
        INSERT INTO domain_verifications (party, host, status, verified_at, last_checked_at, failures, last_failure)
        VALUES (@party, @host, '{Verified}', @now, @now, 0, NULL)
        ON CONFLICT (party, host) DO UPDATE
        SET status = '{Verified}', verified_at = @now, failures = 0, last_failure = NULL,
            last_checked_at = CASE WHEN domain_verifications.last_checked_at < @now THEN @now
                                   ELSE domain_verifications.last_checked_at + 1 END
        """;

    private static string SelectVerifiedHosts(RegistryDatabase db) =>
        $"SELECT party, host FROM domain_verifications WHERE status = '{Verified}' AND party {db.InList("@parties")}";

    private const string SelectDue = $"""
        SELECT party, host, status, verified_at, last_checked_at, failures, last_failure
        FROM domain_verifications
        WHERE status = '{Verified}' AND last_checked_at <= @dueBefore
        ORDER BY last_checked_at
        LIMIT @limit
        """;

    private const string SelectRow = """
        SELECT party, host, status, verified_at, last_checked_at, failures, last_failure
        FROM domain_verifications WHERE party = @party AND host = @host
        """;

    // Optimistic: of several replicas that pick the same row, only the one whose update lands checks it.
    private const string TakeForCheck = $"""
        UPDATE domain_verifications SET last_checked_at = @takenAt
        WHERE party = @party AND host = @host AND status = '{Verified}' AND last_checked_at = @lastCheckedAt
        """;

    // Both only land if nothing wrote the row since the re-check took it (a verification in between
    // moves last_checked_at): a stale re-check never overwrites a fresh success. Both move
    // last_checked_at on too, so an outcome lands at most once: a later write for the same take (a
    // failure counted after the success was recorded) finds the row changed and is dropped.
    private const string RecordSuccess = $"""
        UPDATE domain_verifications SET verified_at = @now, last_checked_at = @checkedAt, failures = 0, last_failure = NULL
        WHERE party = @party AND host = @host AND status = '{Verified}' AND last_checked_at = @takenAt
        """;

    private const string RecordFailure = $"""
        UPDATE domain_verifications SET status = @status, last_checked_at = @checkedAt, failures = @failures, last_failure = @lastFailure
        WHERE party = @party AND host = @host AND status = '{Verified}' AND last_checked_at = @takenAt
        """;

    // A take whose check recorded no outcome: the row gets its old last_checked_at back, so it is
    // due again at once, unless anything wrote it since the take.
    private const string GiveBack = $"""
        UPDATE domain_verifications SET last_checked_at = @lastCheckedAt
        WHERE party = @party AND host = @host AND status = '{Verified}' AND last_checked_at = @takenAt
        """;

    private const string SelectPartyPage = """
        SELECT party, host, status, verified_at, last_checked_at, failures, last_failure
        FROM domain_verifications
        WHERE party = @party AND host > @after
        ORDER BY host
        LIMIT @limit
        """;

    private const string Delete = "DELETE FROM domain_verifications WHERE party = @party AND host = @host";

    private const string Owe = """
        INSERT INTO domain_trust_owed (party, token) VALUES (@party, @token)
        ON CONFLICT (party) DO UPDATE SET token = excluded.token
        """;

    private const string SelectOwed = "SELECT party, token FROM domain_trust_owed ORDER BY party LIMIT @limit";

    private const string SelectOwedOf = "SELECT party, token FROM domain_trust_owed WHERE party = @party";

    private const string Settle = "DELETE FROM domain_trust_owed WHERE party = @party AND token = @token";

    // Subjects of claims the verifier may move between signed and domain; never revoked or reviewed ones.
    private const string SelectPartyClaims = """
        SELECT seq, id, subjects FROM claims
        WHERE party = @party AND revoked_seq IS NULL AND trust = @trust AND seq > @after
        ORDER BY seq
        LIMIT @limit
        """;

    private static string SelectClaimSubjects(RegistryDatabase db) => $"SELECT id, party, subjects FROM claims WHERE id {db.InList("@ids")}";

    /// <summary>
    /// Records (party, host) as verified now, unless the party already has <paramref name="maxHosts"/>
    /// other verified hosts: not written then, and nothing is written. Count and write share one
    /// transaction under the log lock, so concurrent verifications cannot overshoot the cap.
    /// When the write adds the host to the party's verified hosts (a new row, or a lapsed one), the
    /// party is owed a reconciliation, recorded in the same transaction; when the host was verified
    /// already, nothing changed that its claims depend on. Returns the debt the party holds after
    /// the write, new or older (null: none, and nothing to reconcile).
    /// </summary>
    public Task<(bool Written, OwedTrust? Owed)> TryUpsertVerifiedAsync(string party, string host, long now, int maxHosts, CancellationToken cancellationToken) =>
        UnderLogLockAsync(async (connection, transaction) =>
        {
            var others = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                CountOtherVerifiedHosts, new { party, host }, transaction, cancellationToken: cancellationToken));
            if (others >= maxHosts)
            {
                return (false, (OwedTrust?)null);
            }

            var status = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                SelectStatus, new { party, host }, transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(Upsert, new { party, host, now }, transaction, cancellationToken: cancellationToken));
            return (true, status == Verified
                ? await connection.QuerySingleOrDefaultAsync<OwedTrust>(new CommandDefinition(
                    SelectOwedOf, new { party }, transaction, cancellationToken: cancellationToken))
                : await OweAsync(connection, transaction, party, cancellationToken));
        }, cancellationToken);

    public async Task<HashSet<string>> VerifiedHostsAsync(string party, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var byParty = await VerifiedHostsAsync(connection, null, [party], cancellationToken);
        return byParty.TryGetValue(party, out var hosts) ? hosts : new HashSet<string>(StringComparer.Ordinal);
    }

    /// <summary>Verified hosts of the given parties; inside the log writer's transaction when <paramref name="transaction"/> is set.</summary>
    internal async Task<Dictionary<string, HashSet<string>>> VerifiedHostsAsync(
        DbConnection connection, DbTransaction? transaction, IReadOnlyCollection<string> parties, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<(string Party, string Host)>(new CommandDefinition(
            SelectVerifiedHosts(database), new { parties = parties.ToList() }, transaction, cancellationToken: cancellationToken));
        var byParty = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var (party, host) in rows)
        {
            if (!byParty.TryGetValue(party, out var hosts))
            {
                byParty[party] = hosts = new HashSet<string>(StringComparer.Ordinal);
            }

            hosts.Add(host);
        }

        return byParty;
    }

    /// <summary>Stored subjects of the given claims, read inside the log writer's transaction.</summary>
    internal async Task<IReadOnlyList<(string Id, string Party, string Subjects)>> ClaimSubjectsAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyCollection<string> claimIds, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<(string Id, string Party, string Subjects)>(new CommandDefinition(
            SelectClaimSubjects(database), new { ids = claimIds.ToList() }, transaction, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    public async Task<IReadOnlyList<DomainVerificationRow>> DueAsync(long dueBefore, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<DomainVerificationRow>(new CommandDefinition(SelectDue, new { dueBefore, limit }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>
    /// Claims the row for one re-check. Returns the <c>last_checked_at</c> it wrote (the token
    /// <see cref="RecordSuccessAsync"/>, <see cref="RecordFailureAsync"/> and <see cref="GiveBackAsync"/> need),
    /// or null when another replica or a verification got there first.
    /// </summary>
    public async Task<long?> TryTakeForCheckAsync(DomainVerificationRow row, long now, CancellationToken cancellationToken)
    {
        var takenAt = Math.Max(now, row.LastCheckedAt + 1);
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var args = new { party = row.Party, host = row.Host, lastCheckedAt = row.LastCheckedAt, takenAt };
        return await connection.ExecuteAsync(new CommandDefinition(TakeForCheck, args, cancellationToken: cancellationToken)) == 1 ? takenAt : null;
    }

    /// <summary>
    /// A re-check found the key: verified_at moves to <paramref name="now"/>, the failures are
    /// forgotten and last_checked_at moves past <paramref name="takenAt"/>. False when superseded
    /// (see <see cref="RecordFailureAsync"/>).
    /// </summary>
    public Task<bool> RecordSuccessAsync(DomainVerificationRow row, long takenAt, long now, CancellationToken cancellationToken) =>
        UnderLogLockAsync(async (connection, transaction) => await connection.ExecuteAsync(new CommandDefinition(
            RecordSuccess, new { party = row.Party, host = row.Host, takenAt, now, checkedAt = CheckedAt(takenAt, now) }, transaction,
            cancellationToken: cancellationToken)) == 1,
            cancellationToken);

    /// <summary>
    /// A re-check failed: the row stays verified (failing) or lapses, and last_checked_at moves past
    /// <paramref name="takenAt"/>. Not written when the row changed since the re-check took it at
    /// <paramref name="takenAt"/> (a verification succeeded in between, or this take's outcome is
    /// already recorded): superseded. A lapse also records, in the same transaction, that the party
    /// is owed a reconciliation, and returns it.
    /// </summary>
    public Task<(bool Written, OwedTrust? Owed)> RecordFailureAsync(
        DomainVerificationRow row, long takenAt, long now, string status, long failures, string code, CancellationToken cancellationToken) =>
        UnderLogLockAsync(async (connection, transaction) =>
        {
            var args = new { party = row.Party, host = row.Host, takenAt, checkedAt = CheckedAt(takenAt, now), status, failures, lastFailure = code };
            var written = await connection.ExecuteAsync(new CommandDefinition(RecordFailure, args, transaction, cancellationToken: cancellationToken)) == 1;
            return (written, written && status == Lapsed ? await OweAsync(connection, transaction, row.Party, cancellationToken) : null);
        }, cancellationToken);

    /// <summary>
    /// Undoes <see cref="TryTakeForCheckAsync"/> for a check whose outcome could not be recorded: the
    /// row is due again at once rather than a whole interval later. False when anything wrote the
    /// row since the take (then it is not this check's to give back).
    /// </summary>
    public async Task<bool> GiveBackAsync(DomainVerificationRow row, long takenAt, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var args = new { party = row.Party, host = row.Host, lastCheckedAt = row.LastCheckedAt, takenAt };
        return await connection.ExecuteAsync(new CommandDefinition(GiveBack, args, cancellationToken: cancellationToken)) == 1;
    }

    // An outcome's last_checked_at: the time of the check, and always past the take's token.
    private static long CheckedAt(long takenAt, long now) => Math.Max(now, takenAt + 1);

    /// <summary>Parties owed a reconciliation (at most <paramref name="limit"/>), with the token that settles each.</summary>
    public async Task<IReadOnlyList<OwedTrust>> OwedAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<OwedTrust>(new CommandDefinition(SelectOwed, new { limit }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>The reconciliation is done: forgotten, unless another lapse or removal owed a new one since (another token).</summary>
    public async Task SettleAsync(OwedTrust owed, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(Settle, new { party = owed.Party, token = owed.Token }, cancellationToken: cancellationToken));
    }

    private static async Task<OwedTrust> OweAsync(DbConnection connection, DbTransaction transaction, string party, CancellationToken cancellationToken)
    {
        var owed = new OwedTrust(party, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        await connection.ExecuteAsync(new CommandDefinition(Owe, new { party, token = owed.Token }, transaction, cancellationToken: cancellationToken));
        return owed;
    }

    /// <summary>
    /// Writes while holding the log writer's sequence lock. A claim batch that read the verified
    /// hosts before this write has then committed before it, so the verifier's next read of the
    /// party's claims sees that claim; a batch after it sees the new status. No claim slips between.
    /// </summary>
    private async Task<T> UnderLogLockAsync<T>(Func<DbConnection, DbTransaction, Task<T>> write, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var (transaction, _) = await database.BeginAppendAsync(connection, cancellationToken);
        await using (transaction)
        {
            var result = await write(connection, transaction);
            await transaction.CommitAsync(cancellationToken);
            return result;
        }
    }

    /// <summary>
    /// Forgets the verification of (party, host), verified or lapsed; null when there was none.
    /// Under the log lock, like a lapse: a claim batch either sees the host still verified and
    /// commits first, or sees it gone. The party is then owed a reconciliation, recorded in the
    /// same transaction and returned.
    /// </summary>
    public Task<OwedTrust?> DeleteAsync(string party, string host, CancellationToken cancellationToken) =>
        UnderLogLockAsync(async (connection, transaction) => await connection.ExecuteAsync(new CommandDefinition(
            Delete, new { party, host }, transaction, cancellationToken: cancellationToken)) == 1
                ? await OweAsync(connection, transaction, party, cancellationToken)
                : null,
            cancellationToken);

    /// <summary>One page of a party's verifications, verified and lapsed, in host order after <paramref name="after"/> ("" for the first page).</summary>
    public async Task<IReadOnlyList<DomainVerificationRow>> ListAsync(string party, string after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<DomainVerificationRow>(new CommandDefinition(
            SelectPartyPage, new { party, after, limit }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>The row of (party, host), or null.</summary>
    public async Task<DomainVerificationRow?> FindAsync(string party, string host, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<DomainVerificationRow>(new CommandDefinition(
            SelectRow, new { party, host }, cancellationToken: cancellationToken));
    }

    /// <summary>One page of a party's unrevoked claims at <paramref name="trust"/>, in seq order.</summary>
    internal async Task<IReadOnlyList<(long Seq, string Id, string Subjects)>> PartyClaimsAsync(
        string party, TrustLevel trust, long after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(long Seq, string Id, string Subjects)>(new CommandDefinition(
            SelectPartyClaims, new { party, trust, after, limit }, cancellationToken: cancellationToken));
        return rows.AsList();
    }
}

/// <summary>
/// A party's claims are owed a reconciliation of their trust: its verified hosts changed (a host
/// was verified anew, lapsed or was removed), and the raise or lowering that follows that commit is
/// not known to be done. <see cref="Token"/> names this debt, so that settling it leaves a newer one in place.
/// </summary>
public sealed record OwedTrust(string Party, string Token);

public sealed record DomainVerificationRow
{
    public required string Party { get; init; }
    public required string Host { get; init; }
    public required string Status { get; init; }
    public long VerifiedAt { get; init; }
    public long LastCheckedAt { get; init; }
    public long Failures { get; init; }
    public string? LastFailure { get; init; }
}

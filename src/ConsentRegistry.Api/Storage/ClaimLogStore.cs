using System.Data.Common;
using ConsentRegistry.Core.Claims;
using Dapper;

namespace ConsentRegistry.Api.Storage;

/// <summary>
/// The SQL of the log's write path, and nothing else: the claim writer (Claims/) decides what to
/// write; this class only reads and writes rows inside the writer's transaction.
/// </summary>
public sealed class ClaimLogStore(RegistryDatabase database)
{
    private readonly string _findClaims =
        $"SELECT id, content_hash, seq, party, trust, revoked_seq FROM claims WHERE id {database.InList("@ids")} OR content_hash {database.InList("@hashes")}";

    private readonly string _findRevocations =
        $"SELECT id, seq, claim_id, jws FROM revocations WHERE id {database.InList("@ids")} OR claim_id {database.InList("@claimIds")}";

    private const string InsertRevocation = """
        INSERT INTO revocations (seq, id, claim_id, party, iat, jws, received_at)
        VALUES (@Seq, @Id, @ClaimId, @Party, @Iat, @Jws, @ReceivedAt)
        """;

    private const string MarkRevoked = "UPDATE claims SET revoked_seq = @seq WHERE id = @id";

    private const string InsertTrustChange = """
        INSERT INTO trust_changes (seq, claim_id, trust, reason, changed_at)
        VALUES (@seq, @claimId, @trust, @reason, @changedAt)
        """;

    private const string SetTrust = "UPDATE claims SET trust = @trust WHERE id = @claimId";

    private const string AdvanceSequence = "UPDATE registry_sequence SET last_seq = @last WHERE id = 1";

    /// <summary>Opens a connection and starts the append transaction, holding the sequence lock until commit.</summary>
    public async Task<AppendTransaction> BeginAsync(CancellationToken cancellationToken)
    {
        var connection = await database.OpenConnectionAsync(cancellationToken);
        try
        {
            var (transaction, last) = await database.BeginAppendAsync(connection, cancellationToken);
            return new AppendTransaction(this, connection, transaction, last);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>One append transaction: reads of what is there, writes of new rows, the sequence advanced, commit.</summary>
    public sealed class AppendTransaction(ClaimLogStore store, DbConnection connection, DbTransaction transaction, long lastSeq) : IAsyncDisposable
    {
        public DbConnection Connection => connection;

        public DbTransaction Transaction => transaction;

        /// <summary>The last seq handed out when the transaction began.</summary>
        public long LastSeq => lastSeq;

        /// <summary>Stored claims with one of these ids or content hashes.</summary>
        public async Task<IEnumerable<ExistingClaim>> FindClaimsAsync(IReadOnlyCollection<string> ids, IReadOnlyCollection<string> hashes, CancellationToken cancellationToken) =>
            await connection.QueryAsync<ExistingClaim>(Command(store._findClaims, new { ids, hashes }, cancellationToken));

        /// <summary>Stored revocations with one of these ids, or of one of these claims.</summary>
        public async Task<IEnumerable<ExistingRevocation>> FindRevocationsAsync(IReadOnlyCollection<string> ids, IReadOnlyCollection<string> claimIds, CancellationToken cancellationToken) =>
            await connection.QueryAsync<ExistingRevocation>(Command(store._findRevocations, new { ids, claimIds }, cancellationToken));

        public Task InsertClaimsAsync(IReadOnlyList<ClaimRow> claims, CancellationToken cancellationToken) =>
            claims.Count == 0 ? Task.CompletedTask : store.InsertClaimsAsync(connection, transaction, claims, cancellationToken);

        public async Task InsertRevocationAsync(RevocationRow revocation, CancellationToken cancellationToken)
        {
            await connection.ExecuteAsync(Command(InsertRevocation, revocation, cancellationToken));
            await connection.ExecuteAsync(Command(MarkRevoked, new { seq = revocation.Seq, id = revocation.ClaimId }, cancellationToken));
        }

        public async Task InsertTrustChangeAsync(long seq, string claimId, TrustLevel trust, string reason, long changedAt, CancellationToken cancellationToken)
        {
            var args = new { seq, claimId, trust, reason, changedAt };
            await connection.ExecuteAsync(Command(InsertTrustChange, args, cancellationToken));
            await connection.ExecuteAsync(Command(SetTrust, args, cancellationToken));
        }

        /// <summary>Hands out every seq up to <paramref name="last"/> and commits.</summary>
        public async Task CommitAsync(long last, CancellationToken cancellationToken)
        {
            if (last != lastSeq)
            {
                await connection.ExecuteAsync(Command(AdvanceSequence, new { last }, cancellationToken));
                await store.AfterAppendAsync(connection, transaction, last, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }

        private CommandDefinition Command(string sql, object args, CancellationToken cancellationToken) =>
            new(sql, args, transaction, cancellationToken: cancellationToken);
    }

    private Task InsertClaimsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<ClaimRow> claims, CancellationToken cancellationToken) =>
        database.InsertClaimsAsync(connection, transaction, claims, cancellationToken);

    private Task AfterAppendAsync(DbConnection connection, DbTransaction transaction, long last, CancellationToken cancellationToken) =>
        database.AfterAppendAsync(connection, transaction, last, cancellationToken);
}

/// <summary>What the writer needs to know of a stored claim.</summary>
public sealed record ExistingClaim
{
    public required string Id { get; init; }
    public string? ContentHash { get; init; }
    public long Seq { get; init; }
    public required string Party { get; init; }
    public TrustLevel Trust { get; init; }
    public long? RevokedSeq { get; init; }
}

/// <summary>What the writer needs to know of a stored revocation.</summary>
public sealed record ExistingRevocation
{
    public required string Id { get; init; }
    public long Seq { get; init; }
    public required string ClaimId { get; init; }
    public required string Jws { get; init; }
}

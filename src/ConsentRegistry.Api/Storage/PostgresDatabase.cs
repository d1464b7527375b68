using System.Data.Common;
using Dapper;
using DbUp;
using DbUp.Engine.Output;
using Npgsql;

namespace ConsentRegistry.Api.Storage;

/// <summary>
/// PostgreSQL through one <see cref="NpgsqlDataSource"/>. Writers of every instance serialize on
/// the <c>registry_sequence</c> row; claims are bulk-copied. Migrations connect with
/// <paramref name="connectionString"/>, as configured: the data source's own copy has its password
/// taken out, and a server that asks for one would refuse the migrator.
/// </summary>
public sealed class PostgresDatabase(NpgsqlDataSource dataSource, string connectionString) : RegistryDatabase
{
    /// <summary>Session advisory lock held while migrating, so two instances starting at once do not both migrate.</summary>
    private const long MigrationLockKey = 0x436f6e73656e74; // "Consent"

    private const string JournalTable = "schema_versions";

    /// <summary>
    /// Connections kept open when the connection string does not set <c>Minimum Pool Size</c> (at
    /// most its <c>Maximum Pool Size</c>). A new PostgreSQL connection is a server process started
    /// (about 25 ms here, more when the cores are busy), and a burst of requests each needing one
    /// made a pool that had shrunk to a few connections open a dozen or more at once: claims sent
    /// at the start of such a burst waited up to about 330 ms (docs/benchmarks.md, abuse resistance).
    /// </summary>
    public const int DefaultMinPoolSize = 20;

    public override string Provider => "postgres";

    /// <summary>
    /// Opens the pool's minimum of connections at once, so that the first burst of requests finds
    /// them open. Only a head start: a connection the server refuses (its max_connections reached
    /// by other processes) is left to be opened when needed, and does not stop the start.
    /// </summary>
    public override async Task WarmAsync(CancellationToken cancellationToken)
    {
        var minimum = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).MinPoolSize;
        var opened = await Task.WhenAll(Enumerable.Range(0, minimum).Select(async _ =>
        {
            try
            {
                return await dataSource.OpenConnectionAsync(cancellationToken);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                return null;
            }
        }));
        foreach (var connection in opened)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync(); // back to the pool, which keeps its minimum open
            }
        }
    }

    /// <summary>
    /// A failure is marked as one of opening (<see cref="TransientStoreErrors.FailedToOpen"/>): a
    /// connect timeout or an exhausted pool says the store is unavailable, though Npgsql shapes
    /// them as it does a command timeout.
    /// </summary>
    public override async ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await dataSource.OpenConnectionAsync(cancellationToken);
        }
        catch (NpgsqlException e)
        {
            TransientStoreErrors.FailedToOpen(e);
            throw;
        }
    }

    public override async Task MigrateAsync(ILogger logger, CancellationToken cancellationToken)
    {
        await using var lockConnection = await dataSource.OpenConnectionAsync(cancellationToken);
        await lockConnection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(@key)", new { key = MigrationLockKey }, cancellationToken: cancellationToken));
        try
        {
            var result = Engine(new MigrationLog(logger)).PerformUpgrade();
            if (!result.Successful)
            {
                throw new InvalidOperationException($"Migration {result.ErrorScript?.Name} failed: {result.Error.Message}", result.Error);
            }

            SchemaCurrent = true;
        }
        finally
        {
            await lockConnection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_unlock(@key)", new { key = MigrationLockKey }, cancellationToken: CancellationToken.None));
        }
    }

    public override Task<IReadOnlyList<string>> PendingMigrationsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>(Engine(new NoOpUpgradeLog()).GetScriptsToExecute().Select(s => s.Name).ToList());

    private DbUp.Engine.UpgradeEngine Engine(IUpgradeLog log) =>
        DeployChanges.To.PostgresqlDatabase(connectionString)
            .WithScripts(Scripts(Provider))
            .JournalToPostgresqlTable("public", JournalTable)
            .WithTransactionPerScript()
            .LogTo(log)
            .Build();

    /// <summary>How long a log append waits for the log's lock (and any row lock in its transaction) before it gives up.</summary>
    internal static readonly TimeSpan LogLockTimeout = TimeSpan.FromSeconds(10);

    internal override async Task<(DbTransaction Transaction, long LastSeq)> BeginAppendAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // The row lock is held until commit: every writer, on every instance, takes its numbers in turn.
        // A writer that cannot have it within LogLockTimeout (a peer stalled mid-transaction) gives up with
        // lock_not_available, which the claim writer answers at once for the whole batch (503, Retry-After),
        // as SQLite's busy timeout is; past the 30 s command timeout it would instead retry each entry
        // of the batch in turn, each waiting the same 30 s. A lock_timeout the operator set is kept.
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT set_config('lock_timeout', @timeout, true) WHERE current_setting('lock_timeout') = '0'",
            new { timeout = $"{(int)LogLockTimeout.TotalMilliseconds}ms" }, transaction, cancellationToken: cancellationToken));
        var last = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT last_seq FROM registry_sequence WHERE id = 1 FOR UPDATE", transaction: transaction, cancellationToken: cancellationToken));
        return (transaction, last);
    }

    internal override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await ((NpgsqlConnection)connection).BeginTransactionAsync(cancellationToken);

    internal override string LockRows => " FOR UPDATE";

    internal override string TakeRows => " FOR UPDATE SKIP LOCKED";

    // statement_timestamp(), not now() (the transaction's start) nor clock_timestamp(): that one is
    // volatile, so a comparison with it cannot use an index (taking jobs scanned every job row).
    internal override string NowMilliseconds => "(EXTRACT(EPOCH FROM statement_timestamp()) * 1000)::bigint";

    internal override async Task<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await ((NpgsqlConnection)connection).BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);

    public override async Task ListenForAppendsAsync(Action onAppended, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        connection.Notification += (_, _) => onAppended();
        await connection.ExecuteAsync(new CommandDefinition("LISTEN registry_log", cancellationToken: cancellationToken));
        while (!cancellationToken.IsCancellationRequested)
        {
            await connection.WaitAsync(cancellationToken);
        }
    }

    internal override async Task InsertClaimsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<ClaimRow> claims, CancellationToken cancellationToken)
    {
        await using var copy = await ((NpgsqlConnection)connection).BeginBinaryImportAsync(
            $"COPY claims ({ClaimsTable.ColumnList}) FROM STDIN (FORMAT BINARY)", cancellationToken);
        foreach (var claim in claims)
        {
            // Values are typed as the columns are (bigint, text, integer); nulls become NULL.
            await copy.WriteRowAsync(cancellationToken, ClaimsTable.Values(claim));
        }

        await copy.CompleteAsync(cancellationToken);
    }

    internal override string InList(string parameter) => $"= ANY({parameter})";

    internal override string Position(string text, string part) => $"strpos({text}, {part})";

    internal override Task AfterAppendAsync(DbConnection connection, DbTransaction transaction, long lastSeq, CancellationToken cancellationToken) =>
        // Delivered at commit: other instances' indexes wake without waiting for their poll.
        connection.ExecuteAsync(new CommandDefinition("SELECT pg_notify('registry_log', @seq)", new { seq = lastSeq.ToString(System.Globalization.CultureInfo.InvariantCulture) }, transaction, cancellationToken: cancellationToken));

    public override async ValueTask DisposeAsync()
    {
        await dataSource.DisposeAsync();
        await base.DisposeAsync();
    }
}

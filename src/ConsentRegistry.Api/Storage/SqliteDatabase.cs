using System.Data.Common;
using Dapper;
using DbUp;
using DbUp.Engine.Output;
using Microsoft.Data.Sqlite;

namespace ConsentRegistry.Api.Storage;

/// <summary>
/// The embedded default: one SQLite file in WAL mode, synchronous=FULL so that an acknowledged
/// claim survives a crash or power loss. SQLite has one writer at a time; the log writer batches
/// claims into few transactions, so that is enough.
/// </summary>
public sealed class SqliteDatabase : RegistryDatabase
{
    private const string JournalTable = "schema_versions";
    private readonly string _connectionString;
    private readonly string _migrationLockPath;

    public SqliteDatabase(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString) { Pooling = true };
        if (builder.Mode is SqliteOpenMode.Memory || builder.DataSource is ":memory:" or "")
        {
            throw new InvalidOperationException(
                "Registry:Database:ConnectionString points SQLite at memory; use a file, e.g. 'Data Source=data/registry.db'.");
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        _connectionString = builder.ToString();
        _migrationLockPath = Path.GetFullPath(builder.DataSource) + ".migrate-lock";
    }

    public override string Provider => "sqlite";

    public override async ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync(); // a request cancelled between the open and the pragmas: back to the pool
            throw;
        }
    }

    public override async Task MigrateAsync(ILogger logger, CancellationToken cancellationToken)
    {
        // Two processes starting at once on one file must not both run a script: an exclusive
        // lock file plays the part of PostgreSQL's advisory lock.
        await using var migrationLock = await AcquireMigrationLockAsync(cancellationToken);
        await using (var connection = await OpenConnectionAsync(cancellationToken))
        {
            // WAL is a property of the file: set once, it stays.
            await connection.ExecuteAsync(new CommandDefinition("PRAGMA journal_mode = WAL;", cancellationToken: cancellationToken));
        }

        var result = Engine(new MigrationLog(logger)).PerformUpgrade();
        if (!result.Successful)
        {
            throw new InvalidOperationException($"Migration {result.ErrorScript?.Name} failed: {result.Error.Message}", result.Error);
        }

        SchemaCurrent = true;
    }

    private async Task<FileStream> AcquireMigrationLockAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            try
            {
                return new FileStream(_migrationLockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, cancellationToken);
            }
        }
    }

    public override Task<IReadOnlyList<string>> PendingMigrationsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>(Engine(new NoOpUpgradeLog()).GetScriptsToExecute().Select(s => s.Name).ToList());

    private DbUp.Engine.UpgradeEngine Engine(IUpgradeLog log) =>
        DeployChanges.To.SqliteDatabase(_connectionString)
            .WithScripts(Scripts(Provider))
            .JournalToSqliteTable(JournalTable)
            .WithTransactionPerScript()
            .LogTo(log)
            .Build();

    internal override async Task<(DbTransaction Transaction, long LastSeq)> BeginAppendAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        // BEGIN IMMEDIATE: take the write lock now, so the seq read below cannot go stale.
        var transaction = ((SqliteConnection)connection).BeginTransaction(deferred: false);
        var last = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT last_seq FROM registry_sequence WHERE id = 1", transaction: transaction, cancellationToken: cancellationToken));
        return (transaction, last);
    }

    internal override Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        // BEGIN IMMEDIATE: the write lock now, so that what the transaction reads stays true until it commits.
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    // julianday works on every SQLite version (unixepoch('subsec') needs 3.42); 2440587.5 is the Unix epoch's Julian day.
    internal override string NowMilliseconds => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

    internal override Task<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken) =>
        // Deferred: a WAL reader's snapshot starts at its first read and never blocks the writer.
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: true));

    internal override async Task InsertClaimsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<ClaimRow> claims, CancellationToken cancellationToken)
    {
        await using var command = (SqliteCommand)connection.CreateCommand();
        command.Transaction = (SqliteTransaction)transaction;
        command.CommandText = $"INSERT INTO claims ({ClaimsTable.ColumnList}) VALUES ({string.Join(", ", ClaimsTable.Columns.Select(c => "@" + c))})";
        var parameters = ClaimsTable.Columns.Select(name => command.Parameters.Add(new SqliteParameter("@" + name, null))).ToArray();
        command.Prepare();
        foreach (var claim in claims)
        {
            var values = ClaimsTable.Values(claim);
            for (var i = 0; i < parameters.Length; i++)
            {
                parameters[i].Value = values[i] ?? DBNull.Value;
            }

            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}

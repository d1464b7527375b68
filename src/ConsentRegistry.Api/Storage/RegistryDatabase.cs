using System.Data.Common;
using System.Reflection;
using Dapper;
using DbUp.Engine;

namespace ConsentRegistry.Api.Storage;

/// <summary>
/// The store's engine: how to open a connection, apply migrations and do the few writes whose
/// fastest form differs between SQLite and PostgreSQL. Everything else is shared SQL in the stores.
/// </summary>
public abstract class RegistryDatabase : IAsyncDisposable
{
    static RegistryDatabase()
    {
        // Dapper's mapping is global: set once, before any store reads or writes a row.
        DefaultTypeMap.MatchNamesWithUnderscores = true;
        SqlMapper.AddTypeHandler(new TrustLevelTypeHandler());
    }

    public abstract string Provider { get; }

    /// <summary>
    /// True once this process has seen the schema current (it migrated it, or found nothing pending).
    /// Migrations only go forward, so readiness checks need not ask the journal again.
    /// </summary>
    public bool SchemaCurrent { get; protected set; }

    public abstract ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken);

    /// <summary>Applies the pending scripts of <c>migrations/&lt;provider&gt;/</c>; safe to call from several instances at once.</summary>
    public abstract Task MigrateAsync(ILogger logger, CancellationToken cancellationToken);

    /// <summary>Opens, at start, what connections the store keeps open (PostgreSQL's pool); nothing by default.</summary>
    public virtual Task WarmAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Names of the migration scripts not yet applied (empty when the schema is current).</summary>
    public abstract Task<IReadOnlyList<string>> PendingMigrationsAsync(CancellationToken cancellationToken);

    /// <summary>Starts the log writer's transaction, holding the sequence lock until commit, and returns the last seq.</summary>
    internal abstract Task<(DbTransaction Transaction, long LastSeq)> BeginAppendAsync(DbConnection connection, CancellationToken cancellationToken);

    internal abstract Task InsertClaimsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<ClaimRow> claims, CancellationToken cancellationToken);

    /// <summary>A read-write transaction; with <see cref="LockRows"/> its reads hold until commit (SQLite: it takes the one write lock at once).</summary>
    internal abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Appended to a SELECT whose rows the transaction will change (PostgreSQL: FOR UPDATE; SQLite's write lock covers it).</summary>
    internal virtual string LockRows => string.Empty;

    /// <summary>Appended to a SELECT that takes queued rows, so that concurrent takers pass each other's by (PostgreSQL: FOR UPDATE SKIP LOCKED).</summary>
    internal virtual string TakeRows => string.Empty;

    /// <summary>
    /// The store's clock as a SQL expression, in Unix milliseconds. The fingerprint queue's leases
    /// and due times are written and compared on it, never on a worker's clock: a worker whose
    /// clock ran ahead would otherwise find other workers' live leases passed and run their jobs
    /// a second time.
    /// </summary>
    internal abstract string NowMilliseconds { get; }

    /// <summary>A read-only transaction that sees one consistent state of the log.</summary>
    internal abstract Task<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>
    /// Calls <paramref name="onAppended"/> whenever another instance appends to the log, until
    /// cancelled. Engines without notifications return at once; readers then rely on polling.
    /// </summary>
    public virtual Task ListenForAppendsAsync(Action onAppended, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The 1-based position of <paramref name="part"/> in <paramref name="text"/> as a SQL expression, 0 when absent.</summary>
    internal virtual string Position(string text, string part) => $"instr({text}, {part})";

    /// <summary>A membership test against a list parameter: Dapper expands lists for SQLite and sends arrays to PostgreSQL.</summary>
    internal virtual string InList(string parameter) => $"IN {parameter}";

    /// <summary>Runs inside the append transaction after the log rows are written (PostgreSQL: NOTIFY).</summary>
    internal virtual Task AfterAppendAsync(DbConnection connection, DbTransaction transaction, long lastSeq, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    protected static IEnumerable<SqlScript> Scripts(string provider)
    {
        var prefix = $"migrations/{provider}/";
        var assembly = typeof(RegistryDatabase).Assembly;
        return assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith(prefix, StringComparison.Ordinal) && name.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(name => new SqlScript(name[prefix.Length..], ReadResource(assembly, name)));
    }

    private static string ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

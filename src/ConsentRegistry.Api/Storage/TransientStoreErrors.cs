using System.Data.Common;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ConsentRegistry.Api.Storage;

/// <summary>
/// Tells a store failure that the same request may get past in a moment (the store is busy,
/// restarting or out of reach: answer 503 with Retry-After) from one it never will (a bug, a
/// broken schema, a constraint: answer 500, log it, and let an operator look).
/// </summary>
public static class TransientStoreErrors
{
    // SQLITE_BUSY (another connection holds the lock) and SQLITE_LOCKED (a conflict within a
    // shared cache); extended codes such as SQLITE_BUSY_SNAPSHOT keep the primary code in the low byte.
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;

    /// <summary>The key of <see cref="Exception.Data"/> that <see cref="FailedToOpen"/> sets.</summary>
    private const string OpeningConnectionKey = "ConsentRegistry.Storage.OpeningConnection";

    /// <summary>
    /// Marks <paramref name="exception"/> as thrown while a connection was being opened, before
    /// any work was sent, and returns it. Npgsql reports a connect timeout ("Failed to connect to
    /// …", a server whose packets are dropped) and an exhausted pool just as it reports a command
    /// that ran past its timeout: an <see cref="NpgsqlException"/> wrapping a
    /// <see cref="TimeoutException"/>. Only where it happened tells them apart, and a failure to
    /// open depends on nothing the work asked.
    /// </summary>
    public static Exception FailedToOpen(Exception exception)
    {
        exception.Data[OpeningConnectionKey] = true;
        return exception;
    }

    /// <summary>Whether <see cref="FailedToOpen"/> marked <paramref name="exception"/>.</summary>
    public static bool WhileOpening(Exception exception) => exception.Data[OpeningConnectionKey] is true;

    public static bool IsTransient(Exception exception) => exception switch
    {
        TimeoutException or SocketException => true,
        PostgresException postgres => IsTransientSqlState(postgres.SqlState),
        // Not a server error: Npgsql's own verdict covers connection failures, broken sockets and command timeouts.
        NpgsqlException npgsql => npgsql.IsTransient,
        SqliteException sqlite => (sqlite.SqliteErrorCode & 0xFF) is SqliteBusy or SqliteLocked,
        DbException { InnerException: TimeoutException or SocketException or IOException } => true,
        _ => false,
    };

    /// <summary>
    /// Whether <paramref name="exception"/> says the store cannot be used at all for now (out of
    /// reach, shutting down or starting, out of connections, a lock not granted in time, SQLite
    /// busy), whatever was asked of it: a subset of <see cref="IsTransient"/> that leaves out what
    /// depends on the work itself (a statement that ran too long, a deadlock or serialization
    /// failure between two transactions), which the same work split up may get past.
    /// </summary>
    public static bool IsUnavailable(Exception exception) => exception switch
    {
        PostgresException postgres => postgres.SqlState is "55P03" or "57P01" or "57P02" or "57P03" or "53300"
            || (postgres.SqlState.StartsWith("08", StringComparison.Ordinal) && postgres.SqlState != "08P01"),
        // No connection to run the work on (connect timeout, pool exhausted): whatever the work, it would wait the same.
        NpgsqlException npgsql when WhileOpening(npgsql) => npgsql.IsTransient,
        NpgsqlException { InnerException: TimeoutException } => false, // a command that ran past its timeout
        NpgsqlException npgsql => npgsql.IsTransient, // connection failures and broken sockets
        SqliteException sqlite => (sqlite.SqliteErrorCode & 0xFF) is SqliteBusy or SqliteLocked,
        SocketException => true,
        DbException { InnerException: SocketException or IOException } => true,
        _ => false,
    };

    /// <summary>
    /// Server errors worth a retry: the transaction lost a race (serialization failure, deadlock,
    /// lock timeout), the server is shutting down, starting or out of connections, or the
    /// connection broke. Anything else (a missing table, a constraint, a syntax error) is a bug.
    /// </summary>
    public static bool IsTransientSqlState(string sqlState) =>
        sqlState switch
        {
            "40001" => true, // serialization_failure
            "40P01" => true, // deadlock_detected
            "55P03" => true, // lock_not_available (lock_timeout, NOWAIT)
            "57014" => true, // query_canceled (statement_timeout; a client's own cancel never reaches the handler)
            "57P01" or "57P02" or "57P03" => true, // admin_shutdown, crash_shutdown, cannot_connect_now
            "53300" => true, // too_many_connections
            "08P01" => false, // protocol_violation: a bug, not the network
            _ => sqlState.StartsWith("08", StringComparison.Ordinal), // connection_exception and its kind
        };
}

using System.Data.Common;
using System.Net.Sockets;
using ConsentRegistry.Api.Storage;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ConsentRegistry.Api.Tests.Platform;

/// <summary>Which store failures are worth a retry (503) and which are bugs (500).</summary>
public sealed class TransientStoreErrorsTests
{
    [Theory]
    [InlineData("40001")] // serialization_failure
    [InlineData("40P01")] // deadlock_detected
    [InlineData("55P03")] // lock_not_available
    [InlineData("57014")] // query_canceled by statement_timeout
    [InlineData("57P01")] // admin_shutdown
    [InlineData("57P02")] // crash_shutdown
    [InlineData("57P03")] // cannot_connect_now
    [InlineData("53300")] // too_many_connections
    [InlineData("08000")] // connection_exception
    [InlineData("08006")] // connection_failure
    [InlineData("08001")] // sqlclient_unable_to_establish_sqlconnection
    public void A_postgres_error_from_a_lost_race_a_restart_or_a_broken_connection_is_transient(string sqlState) =>
        Assert.True(TransientStoreErrors.IsTransient(new PostgresException("message", "ERROR", "ERROR", sqlState)));

    [Theory]
    [InlineData("42P01")] // undefined_table
    [InlineData("42703")] // undefined_column
    [InlineData("42601")] // syntax_error
    [InlineData("23505")] // unique_violation
    [InlineData("23514")] // check_violation
    [InlineData("22P02")] // invalid_text_representation
    [InlineData("53100")] // disk_full: an operator must act; retrying does not help
    [InlineData("08P01")] // protocol_violation
    [InlineData("XX000")] // internal_error
    public void A_postgres_error_no_retry_fixes_is_not_transient(string sqlState) =>
        Assert.False(TransientStoreErrors.IsTransient(new PostgresException("message", "ERROR", "ERROR", sqlState)));

    [Theory]
    [InlineData(5, true)] // SQLITE_BUSY
    [InlineData(6, true)] // SQLITE_LOCKED
    [InlineData(1, false)] // SQLITE_ERROR: no such table, syntax
    [InlineData(8, false)] // SQLITE_READONLY
    [InlineData(11, false)] // SQLITE_CORRUPT
    [InlineData(13, false)] // SQLITE_FULL
    [InlineData(19, false)] // SQLITE_CONSTRAINT
    public void Only_a_busy_or_locked_sqlite_database_is_transient(int code, bool transient) =>
        Assert.Equal(transient, TransientStoreErrors.IsTransient(new SqliteException("message", code)));

    [Fact]
    public void Timeouts_and_broken_sockets_are_transient_whoever_reports_them()
    {
        Assert.True(TransientStoreErrors.IsTransient(new TimeoutException()));
        Assert.True(TransientStoreErrors.IsTransient(new SocketException((int)SocketError.ConnectionRefused)));
        Assert.True(TransientStoreErrors.IsTransient(new NpgsqlException("Failed to connect", new SocketException((int)SocketError.ConnectionRefused))));
        Assert.True(TransientStoreErrors.IsTransient(new NpgsqlException("Exception while reading from stream", new IOException("broken pipe"))));
        Assert.True(TransientStoreErrors.IsTransient(new NpgsqlException("Timeout", new TimeoutException())));
        Assert.True(TransientStoreErrors.IsTransient(new OtherDbException(new IOException("connection reset"))));
    }

    [Fact]
    public void Other_failures_are_not_transient()
    {
        Assert.False(TransientStoreErrors.IsTransient(new NpgsqlException("The connection string is invalid")));
        Assert.False(TransientStoreErrors.IsTransient(new OtherDbException(null)));
        Assert.False(TransientStoreErrors.IsTransient(new InvalidOperationException("a bug")));
        Assert.False(TransientStoreErrors.IsTransient(new IOException("a file, not the store")));
    }

    [Theory]
    [InlineData("55P03", true)] // lock_not_available: another transaction holds what every write needs
    [InlineData("57P01", true)] // admin_shutdown
    [InlineData("57P03", true)] // cannot_connect_now
    [InlineData("53300", true)] // too_many_connections
    [InlineData("08006", true)] // connection_failure
    [InlineData("40001", false)] // serialization_failure: this work against another's
    [InlineData("40P01", false)] // deadlock_detected
    [InlineData("57014", false)] // statement_timeout: this work ran too long
    [InlineData("08P01", false)] // protocol_violation
    [InlineData("23505", false)] // unique_violation
    public void A_store_is_unavailable_only_for_errors_whatever_work_would_meet(string sqlState, bool unavailable) =>
        Assert.Equal(unavailable, TransientStoreErrors.IsUnavailable(new PostgresException("message", "ERROR", "ERROR", sqlState)));

    [Fact]
    public void A_refused_connection_or_a_busy_sqlite_database_is_unavailable_and_a_command_timeout_is_not()
    {
        Assert.True(TransientStoreErrors.IsUnavailable(new NpgsqlException("Failed to connect", new SocketException((int)SocketError.ConnectionRefused))));
        Assert.True(TransientStoreErrors.IsUnavailable(new SqliteException("message", 5)));
        Assert.False(TransientStoreErrors.IsUnavailable(new NpgsqlException("Exception while reading from stream", new TimeoutException())));
        Assert.False(TransientStoreErrors.IsUnavailable(new SqliteException("message", 19)));
        Assert.False(TransientStoreErrors.IsUnavailable(new InvalidOperationException("a bug")));
    }

    private sealed class OtherDbException(Exception? inner) : DbException("another provider's failure", inner);
}

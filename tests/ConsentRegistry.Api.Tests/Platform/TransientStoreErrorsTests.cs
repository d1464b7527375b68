using System.Data.Common;
using System.Net;
using System.Net.Sockets;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Infrastructure;
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

    [Fact]
    public void A_timeout_while_opening_a_connection_is_unavailable_and_the_same_timeout_of_a_command_is_not()
    {
        Assert.True(TransientStoreErrors.IsUnavailable(TransientStoreErrors.FailedToOpen(
            new NpgsqlException("Failed to connect to 10.0.0.1:5432", new TimeoutException("Timeout during connection attempt")))));
        Assert.True(TransientStoreErrors.IsUnavailable(TransientStoreErrors.FailedToOpen(
            new NpgsqlException("The connection pool has been exhausted", new TimeoutException()))));
        Assert.False(TransientStoreErrors.IsUnavailable(new NpgsqlException("Failed to connect to 10.0.0.1:5432", new TimeoutException())));
        // Opening does not make a failure no retry fixes transient.
        Assert.False(TransientStoreErrors.IsUnavailable(TransientStoreErrors.FailedToOpen(new NpgsqlException("The connection string is invalid"))));
        Assert.False(TransientStoreErrors.IsUnavailable(TransientStoreErrors.FailedToOpen(new PostgresException("password authentication failed", "FATAL", "FATAL", "28P01"))));
    }

    [Fact]
    public async Task A_server_whose_packets_are_dropped_is_unavailable_once_the_connect_timeout_passes()
    {
        // A listener whose accept queue is full: the kernel drops further connection attempts, as
        // a firewall that drops packets does, and Npgsql waits out its connect timeout.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var fillers = Enumerable.Range(0, 4).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)).ToList();
        using var disposeFillers = new DisposeAll(fillers);
        var filling = fillers.Select(filler => filler.ConnectAsync(IPAddress.Loopback, port)).ToList();
        await Task.WhenAny(Task.WhenAll(filling), Task.Delay(500));

        var connectionString = $"Host=127.0.0.1;Port={port};Username=nobody;Password=x;Database=nothing;Timeout=1;Minimum Pool Size=0";
        await using var database = new PostgresDatabase(NpgsqlDataSource.Create(connectionString), connectionString);
        var failure = await Assert.ThrowsAsync<NpgsqlException>(async () => await database.OpenConnectionAsync(default));

        Assert.IsType<TimeoutException>(failure.InnerException); // the shape of a command timeout
        Assert.True(TransientStoreErrors.IsTransient(failure));
        Assert.True(TransientStoreErrors.IsUnavailable(failure));
    }

    [PostgresFact("an exhausted pool of server connections")]
    public async Task An_exhausted_pool_is_unavailable()
    {
        await using var testDatabase = await TestDatabase.CreateAsync();
        var connectionString = new NpgsqlConnectionStringBuilder(testDatabase.ConnectionString) { MaxPoolSize = 1, MinPoolSize = 0, Timeout = 1 }.ConnectionString;
        await using var database = new PostgresDatabase(NpgsqlDataSource.Create(connectionString), connectionString);
        await using var held = await database.OpenConnectionAsync(default);

        var failure = await Assert.ThrowsAsync<NpgsqlException>(async () => await database.OpenConnectionAsync(default));

        Assert.IsType<TimeoutException>(failure.InnerException); // the shape of a command timeout
        Assert.True(TransientStoreErrors.IsTransient(failure));
        Assert.True(TransientStoreErrors.IsUnavailable(failure));
    }

    private sealed class DisposeAll(IEnumerable<IDisposable> disposables) : IDisposable
    {
        public void Dispose()
        {
            foreach (var disposable in disposables)
            {
                disposable.Dispose();
            }
        }
    }

    private sealed class OtherDbException(Exception? inner) : DbException("another provider's failure", inner);
}

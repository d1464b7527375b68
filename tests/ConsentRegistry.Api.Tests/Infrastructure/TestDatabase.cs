using Npgsql;

namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>
/// A fresh, empty store for one test app: a temporary SQLite file, or a new database on the
/// throwaway PostgreSQL cluster that scripts/test.sh starts. The engine comes from
/// REGISTRY_TEST_PROVIDER (sqlite by default); the cluster from REGISTRY_TEST_POSTGRES.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly string? _postgresName;
    private readonly string? _sqliteDirectory;

    private TestDatabase(string provider, string connectionString, string? postgresName, string? sqliteDirectory)
    {
        Provider = provider;
        ConnectionString = connectionString;
        _postgresName = postgresName;
        _sqliteDirectory = sqliteDirectory;
    }

    public static string ConfiguredProvider =>
        Environment.GetEnvironmentVariable("REGISTRY_TEST_PROVIDER") is { Length: > 0 } provider ? provider : "sqlite";

    public string Provider { get; }

    public string ConnectionString { get; }

    public static async Task<TestDatabase> CreateAsync()
    {
        if (ConfiguredProvider == "sqlite")
        {
            var directory = Directory.CreateTempSubdirectory("registry-test-").FullName;
            return new TestDatabase("sqlite", $"Data Source={Path.Combine(directory, "registry.db")}", null, directory);
        }

        var admin = AdminConnectionString();
        var name = $"registry_test_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name };
        return new TestDatabase("postgres", builder.ConnectionString, name, null);
    }

    /// <summary>A connection of the test's own to the store, for looking at (or arranging) rows the API does not show.</summary>
    public async Task<System.Data.Common.DbConnection> OpenAsync()
    {
        System.Data.Common.DbConnection connection = Provider == "sqlite"
            ? new Microsoft.Data.Sqlite.SqliteConnection(ConnectionString)
            : new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>
    /// Takes the store out of reach until the result is disposed: the SQLite file's folder moves
    /// away (opens fail), or the PostgreSQL database refuses connections and its sessions are ended.
    /// </summary>
    public async Task<IAsyncDisposable> TakeAwayAsync()
    {
        if (_sqliteDirectory is not null)
        {
            var away = _sqliteDirectory + "-away";
            Directory.Move(_sqliteDirectory, away);
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            return new Restore(() =>
            {
                Directory.Move(away, _sqliteDirectory);
                return Task.CompletedTask;
            });
        }

        await AdminExecuteAsync(
            $"ALTER DATABASE \"{_postgresName}\" WITH ALLOW_CONNECTIONS false",
            $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{_postgresName}'");
        return new Restore(() => AdminExecuteAsync($"ALTER DATABASE \"{_postgresName}\" WITH ALLOW_CONNECTIONS true"));
    }

    private static async Task AdminExecuteAsync(params string[] statements)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString());
        await connection.OpenAsync();
        foreach (var statement in statements)
        {
            await using var command = new NpgsqlCommand(statement, connection);
            await command.ExecuteNonQueryAsync();
        }
    }

    private sealed class Restore(Func<Task> restore) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await restore();
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_postgresName is not null)
        {
            await using var connection = new NpgsqlConnection(AdminConnectionString());
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_postgresName}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }

        if (_sqliteDirectory is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(_sqliteDirectory, recursive: true);
            }
            catch (IOException)
            {
                // a temp directory left behind is harmless
            }
        }
    }

    private static string AdminConnectionString() =>
        Environment.GetEnvironmentVariable("REGISTRY_TEST_POSTGRES") is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException(
                "REGISTRY_TEST_PROVIDER=postgres needs REGISTRY_TEST_POSTGRES (a connection string to a server where the tests may create databases). "
                + "scripts/test.sh starts a throwaway cluster and sets both.");
}

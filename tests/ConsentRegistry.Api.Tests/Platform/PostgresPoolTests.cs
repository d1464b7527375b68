using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Infrastructure;
using Dapper;
using Npgsql;

namespace ConsentRegistry.Api.Tests.Platform;

/// <summary>
/// The PostgreSQL pool keeps connections open from the start, so that a burst of requests does not
/// wait for new server processes; a connection string's own pool sizes win.
/// </summary>
public sealed class PostgresPoolTests
{
    [PostgresFact("SQLite has no pool of server connections")]
    public async Task The_pool_opens_its_minimum_at_start_and_a_smaller_maximum_in_the_connection_string_still_starts()
    {
        await using var database = await TestDatabase.CreateAsync();
        var application = $"pool-test-{Guid.NewGuid():N}"[..30];
        var capped = new NpgsqlConnectionStringBuilder(database.ConnectionString) { ApplicationName = application, MaxPoolSize = 5 }.ConnectionString;

        await using (var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Database:ConnectionString"] = capped }))
        {
            app.StartServer();
            await app.WaitUntilReadyAsync();
            // min(20, the maximum of 5) open before any request (the migrations' own connection may be one more).
            Assert.InRange(await ConnectionsOfAsync(database, application), 5, 6);
        }

        var named = new NpgsqlConnectionStringBuilder(database.ConnectionString) { ApplicationName = application + "-d" }.ConnectionString;
        await using (var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Database:ConnectionString"] = named }))
        {
            app.StartServer();
            await app.WaitUntilReadyAsync();
            Assert.True(await ConnectionsOfAsync(database, application + "-d") >= PostgresDatabase.DefaultMinPoolSize);
        }
    }

    private static async Task<int> ConnectionsOfAsync(TestDatabase database, string application)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        return await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM pg_stat_activity WHERE application_name = @application", new { application });
    }
}

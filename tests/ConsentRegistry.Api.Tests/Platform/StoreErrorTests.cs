using System.Net;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ConsentRegistry.Api.Tests.Platform;

/// <summary>
/// Store failures end to end: a broken schema is a 500 an operator can find in the log by its
/// correlation id; a store that is only busy is a 503 to retry. Each test breaks a database of its own.
/// </summary>
public sealed class StoreErrorTests
{
    private static readonly string Party = new('A', 43);

    [Fact]
    public async Task A_database_error_no_retry_fixes_is_a_500_with_a_correlation_id_in_the_log_and_nothing_of_the_error_in_the_answer()
    {
        await using var app = await RegistryApp.StartAsync();
        await using (var connection = await app.Services.GetRequiredService<RegistryDatabase>().OpenConnectionAsync(default))
        {
            await connection.ExecuteAsync("ALTER TABLE domain_verifications RENAME TO domain_verifications_elsewhere");
        }

        using var client = app.CreateClient();

        var response = await client.GetAsync($"/v1/parties/{Party}/domains");

        var raw = await response.Content.ReadAsStringAsync();
        await TestHttp.AssertProblemAsync(response, HttpStatusCode.InternalServerError, "internal-error");
        Assert.Null(response.Headers.RetryAfter);
        var correlationId = (await response.JsonAsync()).GetProperty("correlation_id").GetString();
        Assert.False(string.IsNullOrWhiteSpace(correlationId));
        foreach (var leak in new[] { "domain_verifications", "SELECT", "no such table", "does not exist", "Sqlite", "Npgsql", "Exception" })
        {
            Assert.DoesNotContain(leak, raw, StringComparison.OrdinalIgnoreCase);
        }

        var logged = Assert.Single(app.Logs, line => line.Contains($"correlation id {correlationId}", StringComparison.Ordinal));
        Assert.StartsWith("Error ", logged, StringComparison.Ordinal);
        Assert.Contains("domain_verifications", logged, StringComparison.Ordinal); // the details are for the operator
    }

    [PostgresFact("SQLite waits out its 30 s busy timeout before it reports a lock")]
    public async Task A_lock_held_past_the_lock_timeout_is_a_503_store_unavailable_with_retry_after_and_then_passes()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = await StartWithLockTimeoutAsync(database, milliseconds: 200);
        using var client = app.CreateClient();

        HttpResponseMessage locked;
        await using (var holder = new NpgsqlConnection(database.ConnectionString))
        {
            await holder.OpenAsync();
            await using var transaction = await holder.BeginTransactionAsync();
            await holder.ExecuteAsync("LOCK TABLE domain_verifications IN ACCESS EXCLUSIVE MODE", transaction: transaction);

            locked = await client.GetAsync($"/v1/parties/{Party}/domains");
        }

        await TestHttp.AssertProblemAsync(locked, HttpStatusCode.ServiceUnavailable, "store-unavailable");
        Assert.True(locked.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.DoesNotContain("lock", (await locked.JsonAsync()).GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/parties/{Party}/domains")).StatusCode);
    }

    [PostgresFact("SQLite waits out its 30 s busy timeout before it reports a lock")]
    public async Task Claims_written_in_one_batch_while_the_store_is_unavailable_all_get_503_at_once_not_one_timeout_each()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = await StartWithLockTimeoutAsync(database, milliseconds: 300);
        using var client = app.CreateClient();
        var signers = Enumerable.Range(0, 10).Select(_ => new TestSigner()).ToList();

        HttpResponseMessage[] answers;
        await using (var holder = new NpgsqlConnection(database.ConnectionString))
        {
            // The sequence row every append takes: the first batch waits out the lock timeout while the others queue behind it.
            await holder.OpenAsync();
            await using var transaction = await holder.BeginTransactionAsync();
            await holder.ExecuteAsync("SELECT last_seq FROM registry_sequence WHERE id = 1 FOR UPDATE", transaction: transaction);

            answers = await Task.WhenAll(signers.Select((signer, i) => client.PostAsync("/v1/claims", TestHttp.Jose(signer.OptOut($"https://unavailable.example/{i}.jpg")))));
        }

        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode));
        Assert.Contains(app.Logs, line => line.Contains("log entries failed; the store is unavailable", StringComparison.Ordinal)); // a batch of several was written
        Assert.DoesNotContain(app.Logs, line => line.Contains("retrying them one at a time", StringComparison.Ordinal));
        signers.ForEach(signer => signer.Dispose());
    }

    [PostgresFact("SQLite waits out its 30 s busy timeout before it reports a lock")]
    public async Task Without_a_lock_timeout_of_its_own_a_claim_behind_a_stalled_writer_gets_503_after_the_logs_lock_timeout()
    {
        // No lock_timeout in the connection string: past the 30 s command timeout the writer used to
        // retry each entry of the batch in turn, each waiting the same 30 s behind the stalled peer.
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        using var signer = new TestSigner();

        HttpResponseMessage answer;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        await using (var holder = new NpgsqlConnection(app.Database.ConnectionString))
        {
            await holder.OpenAsync();
            await using var transaction = await holder.BeginTransactionAsync();
            await holder.ExecuteAsync("SELECT last_seq FROM registry_sequence WHERE id = 1 FOR UPDATE", transaction: transaction);

            answer = await client.PostAsync("/v1/claims", TestHttp.Jose(signer.OptOut("https://stalled.example/a.jpg")));
            waited.Stop();
        }

        await TestHttp.AssertProblemAsync(answer, HttpStatusCode.ServiceUnavailable, "store-unavailable");
        Assert.True(answer.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.InRange(waited.Elapsed, PostgresDatabase.LogLockTimeout - TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(29)); // before the command timeout
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", TestHttp.Jose(signer.OptOut("https://stalled.example/b.jpg")))).StatusCode);
    }

    /// <summary>
    /// The pool is warmed at start (20 connections) only as a head start: a server that refuses some
    /// of them (its connection limit reached by other processes) must not stop the start, which made
    /// every further process crash in a loop.
    /// </summary>
    [PostgresFact("SQLite has no connection pool to warm")]
    public async Task A_start_whose_pool_warm_up_the_server_refuses_in_part_still_serves()
    {
        var database = await TestDatabase.CreateAsync();
        var builder = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        var role = $"limited_{Guid.NewGuid():N}";
        var password = Guid.NewGuid().ToString("N");
        try
        {
            await using (var admin = await database.OpenAsync())
            {
                // Superusers are exempt from connection limits: a role of its own, owning the test's
                // database, allowed fewer connections than the pool warms (and more than the app uses).
                await admin.ExecuteAsync($"CREATE ROLE {role} LOGIN PASSWORD '{password}' CONNECTION LIMIT 12");
                await admin.ExecuteAsync($"ALTER DATABASE \"{builder.Database}\" OWNER TO {role}");
            }

            var limited = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = role, Password = password, MinPoolSize = 20 }.ConnectionString;
            await using var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Database:ConnectionString"] = limited });
            app.StartServer();
            await app.WaitUntilReadyAsync();
            using var client = app.CreateClient();
            using var signer = new TestSigner();

            Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", TestHttp.Jose(signer.OptOut("https://warm.example/a.jpg")))).StatusCode);
        }
        finally
        {
            await database.DisposeAsync(); // drops the database the role owns
            await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database.ConnectionString) { Database = "postgres" }.ConnectionString);
            await admin.OpenAsync();
            await admin.ExecuteAsync($"DROP ROLE IF EXISTS {role}");
        }
    }

    /// <summary>A registry whose PostgreSQL sessions give up waiting for a lock after <paramref name="milliseconds"/>.</summary>
    private static async Task<RegistryApp> StartWithLockTimeoutAsync(TestDatabase database, int milliseconds)
    {
        var withLockTimeout = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Options = $"-c lock_timeout={milliseconds}" }.ConnectionString;
        var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Database:ConnectionString"] = withLockTimeout });
        app.StartServer();
        await app.WaitUntilReadyAsync();
        return app;
    }
}

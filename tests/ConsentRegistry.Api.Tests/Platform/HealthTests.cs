using System.Net;
using System.Text.Json;
using ConsentRegistry.Api.Health;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Core.Matching;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace ConsentRegistry.Api.Tests.Platform;

public sealed class HealthTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task Live_answers_while_the_process_runs()
    {
        var response = await registry.Client.GetAsync("/health/live");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Ready_reports_the_store_reachable_and_migrated()
    {
        var response = await registry.Client.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal("Healthy", body.GetProperty("status").GetString());
        Assert.Contains("migrated", body.GetProperty("checks").GetProperty("database").GetProperty("description").GetString());
    }

    [Fact]
    public async Task Once_the_index_is_built_a_store_out_of_reach_leaves_ready_at_200_degraded_naming_the_store()
    {
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();

        await using (await app.Database.TakeAwayAsync())
        {
            HttpResponseMessage response = null!;
            JsonElement body = default;
            await Eventually.HoldsAsync(async () =>
            {
                response = await client.GetAsync("/health/ready");
                body = await response.JsonAsync();
                return body.GetProperty("status").GetString() != "Healthy";
            }, "ready sees the store gone");

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("Degraded", body.GetProperty("status").GetString());
            var database = body.GetProperty("checks").GetProperty("database");
            Assert.Equal("Degraded", database.GetProperty("status").GetString());
            Assert.Contains("unreachable", database.GetProperty("description").GetString());
            Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("matching-index").GetProperty("status").GetString());
        }

        await Eventually.HoldsAsync(
            async () => (await (await client.GetAsync("/health/ready")).JsonAsync()).GetProperty("status").GetString() == "Healthy",
            "ready healthy again once the store is back");
    }

    [Fact]
    public async Task Before_the_index_is_first_built_a_store_out_of_reach_is_not_ready()
    {
        // Nothing listens on port 1: connections are refused at once.
        const string refused = "Host=127.0.0.1;Port=1;Username=nobody;Password=x;Database=nothing;Timeout=1;Minimum Pool Size=0";
        await using var database = new PostgresDatabase(NpgsqlDataSource.Create(refused), refused);
        using var index = new SharedMatchingIndex();
        await using var services = new ServiceCollection().AddSingleton(index).BuildServiceProvider();
        var check = new DatabaseHealthCheck(database, services);

        var building = await check.CheckHealthAsync(new HealthCheckContext());
        index.MarkReady(compact: false);
        var built = await check.CheckHealthAsync(new HealthCheckContext());

        Assert.Equal(HealthStatus.Unhealthy, building.Status);
        Assert.Contains("unreachable", building.Description);
        Assert.Equal(HealthStatus.Degraded, built.Status);
    }

    [Fact]
    public async Task A_flood_of_ready_checks_costs_the_store_about_one_round_trip_a_second()
    {
        var check = registry.App.Services.GetRequiredService<DatabaseHealthCheck>();
        await registry.Client.GetAsync("/health/ready");
        var before = check.Probes;

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => registry.Client.GetAsync("/health/ready")));

        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.StatusCode));
        Assert.InRange(check.Probes - before, 0, 2);
    }
}

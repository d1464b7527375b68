using System.Net;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace ConsentRegistry.Api.Tests.Platform;

public sealed class MigrationTests
{
    [Fact]
    public async Task Three_instances_starting_at_once_on_an_empty_store_apply_each_migration_once()
    {
        var database = await TestDatabase.CreateAsync();
        await using (database)
        {
            var apps = Enumerable.Range(0, 3).Select(_ => new RegistryApp(database)).ToList();
            try
            {
                await Task.WhenAll(apps.Select(app => Task.Run(app.StartServer)));

                foreach (var app in apps)
                {
                    using var client = app.CreateClient();
                    Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
                }

                await using var connection = await apps[0].Services.GetRequiredService<RegistryDatabase>().OpenConnectionAsync(default);
                var applied = (await connection.QueryAsync<string>("SELECT scriptname FROM schema_versions")).ToList();
                Assert.NotEmpty(applied);
                Assert.Equal(applied.Distinct().Count(), applied.Count);
                Assert.Empty(await apps[0].Services.GetRequiredService<RegistryDatabase>().PendingMigrationsAsync(default));
            }
            finally
            {
                foreach (var app in apps)
                {
                    await app.DisposeAsync();
                }
            }
        }
    }
}

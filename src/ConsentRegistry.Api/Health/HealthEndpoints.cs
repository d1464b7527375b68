using System.Text.Json;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Storage;
using Dapper;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ConsentRegistry.Api.Health;

/// <summary>Ready when the store answers and its schema has every migration this build ships.</summary>
internal sealed class DatabaseHealthCheck(RegistryDatabase database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using (var connection = await database.OpenConnectionAsync(cancellationToken))
            {
                await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT last_seq FROM registry_sequence WHERE id = 1", cancellationToken: cancellationToken));
            }

            IReadOnlyList<string> pending = database.SchemaCurrent ? [] : await database.PendingMigrationsAsync(cancellationToken);
            return pending.Count == 0
                ? HealthCheckResult.Healthy($"{database.Provider} reachable and migrated")
                : HealthCheckResult.Unhealthy($"{pending.Count} migration(s) not applied: {string.Join(", ", pending)}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy($"{database.Provider} unreachable: {e.GetType().Name}");
        }
    }
}

public static class HealthEndpoints
{
    public const string ReadyTag = "ready";

    public static IServiceCollection AddRegistryHealthChecks(this IServiceCollection services)
    {
        services.AddStoreHealthChecks();
        services.AddHealthChecks().AddCheck<Matching.MatchingIndexHealthCheck>("matching-index", tags: [ReadyTag]);
        return services;
    }

    /// <summary>What the API and the worker process both report: the store, and the embedding model.</summary>
    public static IServiceCollection AddStoreHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: [ReadyTag])
            .AddCheck<Images.EmbeddingHealthCheck>("embedding", tags: [ReadyTag]);
        return services;
    }

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        // Live: the process answers. Ready: it can serve (store reachable and migrated).
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync }).WithGetAndHeadOnly();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync }).WithGetAndHeadOnly();
        return app;
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        };
        return JsonSerializer.SerializeAsync(context.Response.Body, body, cancellationToken: context.RequestAborted);
    }
}

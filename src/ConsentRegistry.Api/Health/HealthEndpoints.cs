using System.Diagnostics;
using System.Text.Json;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Matching;
using Dapper;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ConsentRegistry.Api.Health;

/// <summary>
/// Ready when the store answers and its schema has every migration this build ships. Once the
/// matching index has been built (the API; the worker has none), a store that does not answer is
/// Degraded (still HTTP 200), not Unhealthy: lookups are answered from memory and keep working
/// through a short outage, and a load balancer that took every replica out over it would turn a
/// short store outage into a full one. Before the index is first built it is Unhealthy, as is a
/// schema with migrations missing.
/// </summary>
/// <remarks>
/// /health/ready is anonymous and each probe costs a store round trip that competes with writers
/// for the pool: one probe answers every check for <see cref="ReuseFor"/> after it finished, and
/// checks that come while it runs wait for it. A check waits at most <see cref="LongestWait"/>
/// (a store whose packets are dropped takes the whole connect timeout to fail, and load balancers
/// give up on a probe long before that); the probe goes on, and the next check takes its answer.
/// </remarks>
internal sealed class DatabaseHealthCheck(RegistryDatabase database, IServiceProvider services) : IHealthCheck
{
    public static readonly TimeSpan ReuseFor = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(2);

    private readonly SharedMatchingIndex? _index = services.GetService<SharedMatchingIndex>();
    private readonly Lock _gate = new();
    private Task<Probe>? _probe;
    private long _probes;

    private enum StoreState
    {
        Ready,
        NotMigrated,
        Unreachable,
    }

    /// <summary>Probes of the store run so far: one per <see cref="ReuseFor"/> at most, however many checks.</summary>
    internal long Probes => Interlocked.Read(ref _probes);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        Task<Probe> running;
        lock (_gate)
        {
            if (_probe is null || (_probe.IsCompleted && Stopwatch.GetElapsedTime(_probe.Result.Finished) >= ReuseFor))
            {
                // Not the caller's token: other checks share the probe.
                _probe = Task.Run(ProbeAsync, CancellationToken.None);
            }

            running = _probe;
        }

        Probe probe;
        try
        {
            probe = await running.WaitAsync(LongestWait, cancellationToken);
        }
        catch (TimeoutException)
        {
            probe = new Probe(StoreState.Unreachable, $"{database.Provider} unreachable: no answer within {LongestWait.TotalSeconds:0} s", 0);
        }

        return probe.State switch
        {
            StoreState.Ready => HealthCheckResult.Healthy(probe.Description),
            StoreState.Unreachable when _index is { IsReady: true } =>
                HealthCheckResult.Degraded($"{probe.Description}; lookups are answered from the matching index, writes fail until it is back"),
            _ => HealthCheckResult.Unhealthy(probe.Description),
        };
    }

    private async Task<Probe> ProbeAsync()
    {
        Interlocked.Increment(ref _probes);
        try
        {
            await using (var connection = await database.OpenConnectionAsync(CancellationToken.None))
            {
                await connection.ExecuteScalarAsync<long>("SELECT last_seq FROM registry_sequence WHERE id = 1");
            }

            IReadOnlyList<string> pending = database.SchemaCurrent ? [] : await database.PendingMigrationsAsync(CancellationToken.None);
            return pending.Count == 0
                ? new Probe(StoreState.Ready, $"{database.Provider} reachable and migrated", Stopwatch.GetTimestamp())
                : new Probe(StoreState.NotMigrated, $"{pending.Count} migration(s) not applied: {string.Join(", ", pending)}", Stopwatch.GetTimestamp());
        }
        catch (Exception e)
        {
            return new Probe(StoreState.Unreachable, $"{database.Provider} unreachable: {e.GetType().Name}", Stopwatch.GetTimestamp());
        }
    }

    /// <summary>What one probe found, and when it finished (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    private sealed record Probe(StoreState State, string Description, long Finished);
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
        services.AddSingleton<DatabaseHealthCheck>(); // one, so that its last probe is shared
        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: [ReadyTag])
            .AddCheck<Images.EmbeddingHealthCheck>("embedding", tags: [ReadyTag]);
        return services;
    }

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        // Live: the process answers. Ready: it can serve (store reachable and migrated, or, once the
        // index is built, Degraded but still 200 while the store is out of reach).
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

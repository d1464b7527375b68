using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Health;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Images;
using ConsentRegistry.Api.Observability;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace ConsentRegistry.Api.Fingerprints;

/// <summary>
/// The worker as a process of its own (<c>dotnet run --project src/ConsentRegistry.Worker</c>, DESIGN.md 4):
/// the store, the embedder and the fingerprint worker (its aligned verifications too), with <c>/health/live</c>, <c>/health/ready</c>
/// and <c>/metrics</c> and none of the API's routes or its matching index. Any number of them
/// share one PostgreSQL queue; the API instances then run with <c>Registry:Worker:Enabled=false</c>.
/// </summary>
public static class WorkerProcess
{
    /// <summary>Where the worker listens for health checks and scrapes when no URL is configured (the API's default is 5000).</summary>
    public const string DefaultUrl = "http://localhost:5081";

    public static WebApplicationBuilder AddRegistryWorker(this WebApplicationBuilder builder)
    {
        // This process exists to run the worker, whatever Registry:Worker:Enabled says for the API processes.
        builder.Configuration.AddInMemoryCollection([new($"{WorkerOptions.Section}:Enabled", "true")]);
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
        var services = builder.Services;
        services.AddRegistryStore();
        services.AddImageHashing();
        services.AddFingerprinting();
        services.AddRegistryProblemDetails();
        services.AddStoreHealthChecks();
        services.AddRegistryOptions<MetricsOptions, MetricsOptionsValidator>(MetricsOptions.Section);
        services.AddSingleton<MetricsAccess>();
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("consent-registry-worker"))
            .WithMetrics(metrics => metrics
                .AddMeter(RegistryMetrics.MeterName)
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        return builder;
    }

    public static WebApplication MapRegistryWorker(this WebApplication app)
    {
        app.MapHealth();
        var options = app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value;
        if (!options.Enabled)
        {
            return app;
        }

        // The worker has no API keys to check: /metrics answers the allowed networks only (loopback by default).
        var access = app.Services.GetRequiredService<MetricsAccess>();
        app.UseWhen(
            context => context.Request.Path.StartsWithSegments(MetricsOptions.Path) && !access.AllowsWithoutCredentials(context.Connection.RemoteIpAddress),
            refused => refused.Run(context => Problems.Create(StatusCodes.Status403Forbidden, ProblemCodes.Forbidden,
                $"/metrics answers only {MetricsOptions.Section}:AllowedNetworks.").ExecuteAsync(context)));
        app.MapPrometheusScrapingEndpoint(MetricsOptions.Path).WithGetAndHeadOnly();
        return app;
    }
}

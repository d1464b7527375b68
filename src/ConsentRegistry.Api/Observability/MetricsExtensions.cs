using ConsentRegistry.Api.Hosting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace ConsentRegistry.Api.Observability;

/// <summary>
/// <c>/metrics</c> in the Prometheus text format (DESIGN.md 7), from OpenTelemetry: ASP.NET Core's
/// and the .NET runtime's instruments and the registry's own (<see cref="RegistryMetrics"/>).
/// </summary>
public static class MetricsExtensions
{
    public static WebApplicationBuilder AddRegistryMetrics(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddRegistryOptions<MetricsOptions, MetricsOptionsValidator>(MetricsOptions.Section);

        // Call sites record whether or not anything listens: an instrument nobody collects costs a branch.
        services.AddSingleton<RegistryMetrics>();
        services.AddOptions<RateLimiterOptions>().PostConfigure<RegistryMetrics>(CountRejections);

        var enabled = builder.Configuration.GetSection(MetricsOptions.Section).Get<MetricsOptions>()?.Enabled ?? true;
        if (!enabled)
        {
            return builder;
        }

        services.AddSingleton<MetricsAccess>();
        services.AddSingleton<IAuthorizationHandler, MetricsAccessHandler>();
        services.AddAuthorizationBuilder()
            .AddPolicy(MetricsAccess.Policy, policy => policy.AddRequirements(new MetricsAccessRequirement()));

        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("consent-registry"))
            .WithMetrics(metrics => metrics
                .AddMeter(RegistryMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        return builder;
    }

    public static WebApplication MapRegistryMetrics(this WebApplication app)
    {
        // The observable gauges exist from the first scrape on, not from the first claim or lookup.
        app.Services.GetRequiredService<RegistryMetrics>();
        if (!app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value.Enabled)
        {
            return app;
        }

        app.MapPrometheusScrapingEndpoint(MetricsOptions.Path)
            .WithGetAndHeadOnly()
            .RequireAuthorization(MetricsAccess.Policy)
            .DisableHttpMetrics() // scrapes would otherwise dominate the request series
            .ExcludeFromDescription();
        return app;
    }

    /// <summary>
    /// Counts each 429 by the endpoint's rate-limit policy before the configured answer is written.
    /// A policy with its own OnRejected (domain verification) bypasses this and counts itself.
    /// </summary>
    private static void CountRejections(RateLimiterOptions limiter, RegistryMetrics metrics)
    {
        var answer = limiter.OnRejected;
        limiter.OnRejected = async (rejected, cancellationToken) =>
        {
            var policy = rejected.HttpContext.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName;
            metrics.RateLimitRejected(policy ?? "global");
            if (answer is not null)
            {
                await answer(rejected, cancellationToken);
            }
        };
    }
}

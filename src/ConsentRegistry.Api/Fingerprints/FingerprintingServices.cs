using ConsentRegistry.Api.Health;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Fingerprints;

public static class FingerprintingServices
{
    /// <summary>
    /// The job queue, the guarded fetcher and the fingerprinter, and the worker itself, which
    /// starts with the host while <c>Registry:Worker:Enabled</c> is true (read at start).
    /// </summary>
    public static IServiceCollection AddFingerprinting(this IServiceCollection services)
    {
        services.AddRegistryOptions<WorkerOptions, WorkerOptionsValidator>(WorkerOptions.Section);
        services.AddRegistryOptions<FetchOptions, FetchOptionsValidator>(FetchOptions.Section);
        services.AddSingleton<FingerprintJobStore>();
        services.AddSingleton<ImageFetcher>();
        // One per process, shared by the fetches of fingerprint jobs and of aligned verifications. A host's pause
        // is cut to MaxRetryAfter and to the re-fetch interval: a host cannot push its URLs' jobs past their schedule.
        services.AddSingleton(sp =>
        {
            var (worker, fetch) = (sp.GetRequiredService<IOptions<WorkerOptions>>().Value, sp.GetRequiredService<IOptions<FetchOptions>>().Value);
            return new HostGate(fetch.PerHostConcurrency, sp.GetRequiredService<TimeProvider>(),
                TimeSpan.FromTicks(Math.Min(worker.MaxRetryAfter.Ticks, worker.RefetchAfter.Ticks)), worker.RetryBackoff);
        });
        services.AddSingleton<ImageFingerprinter>();
        services.AddSingleton<WorkerMetrics>();
        services.AddSingleton<FingerprintWorker>();
        services.AddSingleton<NearDuplicateCheckStore>();
        services.AddSingleton<AlignedVerificationWorker>();
        services.AddHostedService<FingerprintWorkerStarter>();
        services.AddHealthChecks().AddCheck<FingerprintWorkerHealthCheck>("fingerprint-worker", tags: [HealthEndpoints.ReadyTag]);
        return services;
    }
}

/// <summary>Starts and stops the worker with the host, when this process is to run it.</summary>
internal sealed class FingerprintWorkerStarter(
    FingerprintWorker worker, AlignedVerificationWorker aligned, IOptions<WorkerOptions> options, IOptions<FetchOptions> fetchOptions,
    ILogger<FingerprintWorkerStarter> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Enabled)
        {
            if (fetchOptions.Value.OperatorUrl is not { Length: > 0 })
            {
                logger.LogWarning(
                    "Registry:Fetch:OperatorUrl is not set: the fetcher's User-Agent names {FallbackOperatorUrl}, which leads nowhere; set it to a page that says who runs this registry and why it fetches images",
                    FetchOptions.FallbackOperatorUrl);
            }

            return Task.WhenAll(worker.StartAsync(cancellationToken), aligned.StartAsync(cancellationToken));
        }

        logger.LogInformation("The fingerprint worker does not run in this process (Registry:Worker:Enabled is false)");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) =>
        options.Value.Enabled ? Task.WhenAll(worker.StopAsync(cancellationToken), aligned.StopAsync(cancellationToken)) : Task.CompletedTask;
}

/// <summary>Says whether this process runs the worker and what it has done; never unhealthy (a failed fetch is the remote host's matter).</summary>
internal sealed class FingerprintWorkerHealthCheck(FingerprintWorker worker, AlignedVerificationWorker aligned, IOptions<WorkerOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!options.Value.Enabled)
        {
            return Task.FromResult(HealthCheckResult.Healthy("not run by this process (Registry:Worker:Enabled is false)"));
        }

        var (derived, failed) = worker.Progress;
        var (compared, checksFailed) = aligned.Progress;
        return Task.FromResult(HealthCheckResult.Healthy(
            $"running as {worker.Owner}: {derived} images fingerprinted, {failed} fetches failed; {compared} aligned verifications done, {checksFailed} failed since start"));
    }
}

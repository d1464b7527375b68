using System.Diagnostics;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Snapshots;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Snapshots;

/// <summary>Index snapshots (DESIGN.md 5.8): written in the background, loaded at start, served to dataset builders.</summary>
public static class SnapshotEndpoints
{
    public static IServiceCollection AddSnapshots(this IServiceCollection services)
    {
        services.AddRegistryOptions<SnapshotOptions, SnapshotOptionsValidator>(SnapshotOptions.Section);
        services.AddSingleton<SnapshotFolder>();
        services.AddHostedService<SnapshotScheduler>();
        return services;
    }

    /// <summary>
    /// <c>GET /v1/snapshots/latest</c> (the signed manifest) and <c>GET|HEAD /v1/snapshots/{id}/{name}</c>
    /// (a file, with Range): readable by whoever may look up.
    /// </summary>
    public static IEndpointRouteBuilder MapSnapshots(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/snapshots").WithTags("Snapshots").RequireLookupAccess(needsIndex: false);
        group.MapGet("/latest", Latest)
            .WithName("GetLatestSnapshot")
            .WithSummary("The newest index snapshot's manifest: id, seq, format, files with size and SHA-256, and the registry's signature (a JWS over the rest).")
            .Produces<SnapshotManifest>()
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapMethods("/{id}/{name}", [HttpMethods.Get, HttpMethods.Head], File)
            .WithName("GetSnapshotFile")
            .WithSummary("One file of a snapshot named in its manifest; HTTP Range requests resume or split a download.")
            .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream")
            .Produces(StatusCodes.Status206PartialContent, contentType: "application/octet-stream")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status412PreconditionFailed)
            .ProducesProblem(StatusCodes.Status416RangeNotSatisfiable);
        return app;
    }

    private static IResult Latest(SnapshotFolder folder, IOptions<SnapshotOptions> options, HttpContext context)
    {
        context.Response.Headers.CacheControl = "no-cache";
        return folder.Latest is { } manifest
            ? TypedResults.Json(manifest, SnapshotJson.Default.SnapshotManifest)
            : Problems.Create(StatusCodes.Status404NotFound, ProblemCodes.SnapshotNotFound, options.Value.Enabled
                ? $"No index snapshot has been written yet; one is written once the log has grown by {options.Value.EveryLogEntries} entries."
                : "Index snapshots are switched off on this registry (Registry:Snapshots:Enabled).");
    }

    private static IResult File(string id, string name, SnapshotFolder folder)
    {
        if (!folder.TryGetFile(id, name, out var path, out var entry))
        {
            return Problems.Create(StatusCodes.Status404NotFound, ProblemCodes.SnapshotNotFound,
                "No such snapshot file: snapshots are kept only a while; GET /v1/snapshots/latest names the current one and its files.");
        }

        return new SnapshotFileResult(path, entry);
    }
}

/// <summary>
/// Writes a snapshot whenever the log has grown by <see cref="SnapshotOptions.EveryLogEntries"/> since
/// the newest one. A write that fails (a full disk, a folder gone) is tried again after twice the
/// check interval, then four times, and so on up to <see cref="MaxRetryWait"/>: each try writes the
/// whole index, and trying every check would spend that much work, and disk, every interval.
/// </summary>
internal sealed class SnapshotScheduler(
    SharedMatchingIndex index,
    SnapshotFolder folder,
    LogReader log,
    IOptions<SnapshotOptions> options,
    ILogger<SnapshotScheduler> logger) : BackgroundService
{
    /// <summary>The longest wait after failed writes before the next try.</summary>
    public static readonly TimeSpan MaxRetryWait = TimeSpan.FromHours(1);

    /// <summary>The wait after <paramref name="failures"/> failed writes in a row (1 or more): the check interval doubled that many times, at most <see cref="MaxRetryWait"/>.</summary>
    internal static TimeSpan RetryWait(TimeSpan checkInterval, int failures) =>
        TimeSpan.FromTicks((long)Math.Min(checkInterval.Ticks * Math.Pow(2, Math.Min(failures, 30)), Math.Max(checkInterval.Ticks, MaxRetryWait.Ticks)));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            return;
        }

        using var timer = new PeriodicTimer(settings.CheckInterval);
        Guid? store = null;
        var failures = 0;
        var retryAt = 0L;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var tick = Stopwatch.GetTimestamp();
            if (!index.IsReady || index.AppliedSeq - (folder.Latest?.Seq ?? 0) < settings.EveryLogEntries || tick < retryAt)
            {
                continue;
            }

            try
            {
                store ??= await log.StoreIdAsync(stoppingToken);
                var clock = Stopwatch.StartNew();
                var manifest = await WriteBetweenPassesAsync(store.Value, stoppingToken);
                if (manifest is null)
                {
                    continue; // a pass over the log was half applied every time: the next check tries again
                }

                failures = 0;
                logger.LogInformation(
                    "Wrote index snapshot {Id} at seq {Seq}: {Bytes} bytes in {Elapsed} ms",
                    manifest.Id, manifest.Seq, manifest.Files.Sum(file => file.Size), clock.ElapsedMilliseconds);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // From the tick that tried, less half an interval: the tick that comes the wait later is
                // the one that tries again, however long the failed write took.
                var wait = RetryWait(settings.CheckInterval, ++failures);
                retryAt = tick + (long)((wait - (settings.CheckInterval / 2)).TotalSeconds * Stopwatch.Frequency);
                logger.LogWarning(e, "Writing an index snapshot failed ({Failures} in a row); trying again in {Wait}", failures, wait);
            }
        }
    }

    /// <summary>A snapshot, taken between two passes over the log; tries for a few seconds, then null.</summary>
    private async Task<SnapshotManifest?> WriteBetweenPassesAsync(Guid store, CancellationToken stoppingToken)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            if (await Task.Run(() => folder.Write(index, store), stoppingToken) is { } manifest)
            {
                return manifest;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), stoppingToken);
        }

        return null;
    }
}

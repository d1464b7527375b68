using System.Diagnostics;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Imaging;
using ConsentRegistry.Imaging.LocalFeatures;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Fingerprints;

/// <summary>
/// Aligned verification (DESIGN.md 5.7), beside the fingerprint worker and wherever it runs: takes the checks the
/// pair recorder proposed (<see cref="AlignedConcurrency"/> at once, under a lease), fetches both claimed
/// pictures again through the guarded <see cref="ImageFetcher"/> (sharing the fingerprint worker's per-host
/// limits), lays one over the other with <see cref="AlignedVerifier"/>, and records the pair, match kind
/// <c>aligned</c>, when one is a copy of the other. Failed fetches are retried with the fingerprint jobs'
/// backoff up to <see cref="WorkerOptions.MaxAttempts"/>; the last failure is kept with its reason.
/// </summary>
internal sealed class AlignedVerificationWorker(
    NearDuplicateCheckStore store,
    ImageFetcher fetcher,
    HostGate hosts,
    ImageHashingGate gate,
    WorkerMetrics metrics,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<AlignedVerificationWorker> logger) : BackgroundService
{
    /// <summary>Checks run at once: each fetches two pictures and takes a core for a few tens of milliseconds.</summary>
    public const int AlignedConcurrency = 2;

    private readonly WorkerOptions _options = options.Value;

    /// <summary>This worker's name in the leases it writes.</summary>
    public string Owner { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:aligned:{Guid.NewGuid().ToString("N")[..8]}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var taken = await store.TakeAsync(Owner, AlignedConcurrency, _options.Lease, stoppingToken);
                if (taken.Count == 0)
                {
                    await Task.Delay(_options.PollInterval, time, stoppingToken);
                    continue;
                }

                await Task.WhenAll(taken.Select(check => RunAsync(check, stoppingToken)));
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Aligned verification could not reach the store; retrying");
                await Task.Delay(_options.PollInterval, time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    private async Task RunAsync(CheckRow check, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            if (check.Attempts > _options.MaxAttempts)
            {
                await FailAsync(check, FetchErrors.Interrupted, $"Each of its {_options.MaxAttempts} tries ended without a result.", transient: false, null, cancellationToken);
                return;
            }

            // The claim proposed earlier is the one laid under (with its mirror image); the newer picture is laid over it.
            var claimed = await PrepareAsync(check.UrlB, claim: true, cancellationToken);
            var probe = claimed.Failure is null ? await PrepareAsync(check.UrlA, claim: false, cancellationToken) : default;
            if ((claimed.Failure ?? probe.Failure) is { } failure)
            {
                if (failure.PausedFor is { } pause)
                {
                    await store.FailAsync(Owner, check, $"{FetchErrors.Busy}: Its host asked for a pause.", final: false, givenBack: true, pause, cancellationToken);
                    return;
                }

                await FailAsync(check, failure.Code!, failure.Detail!, failure.Transient, failure.RetryAfter, cancellationToken);
                return;
            }

            var started = Stopwatch.GetTimestamp();
            var comparison = await Task.Run(() => AlignedVerifier.Compare(claimed.Claim!, probe.Image!), cancellationToken);
            var copy = AlignedVerifier.IsCopy(comparison);
            metrics.Verified(copy, Stopwatch.GetElapsedTime(started));
            await store.CompleteAsync(Owner, check, copy ? comparison!.Distance : null, time.GetUtcNow().ToUnixTimeSeconds(), cancellationToken);
            if (copy)
            {
                logger.LogInformation("Aligned verification: claim {ClaimA}'s picture is a copy of claim {ClaimB}'s ({Inliers} inliers, aligned PDQ distance {Distance})",
                    check.ClaimA, check.ClaimB, comparison!.Inliers, comparison.Distance);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: the lease passes and the check is taken again.
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "An aligned verification failed unexpectedly");
            await FailAsync(check, FetchErrors.FetchFailed, "The pictures could not be compared.", transient: true, null, cancellationToken);
        }
    }

    private readonly record struct Failure(string? Code, string? Detail, bool Transient, TimeSpan? RetryAfter, TimeSpan? PausedFor);

    private readonly record struct Prepared(AlignedClaim? Claim, AlignedImage? Image, Failure? Failure);

    /// <summary>Fetches and decodes one picture, under the decoders' gate, and finds its local features.</summary>
    private async Task<Prepared> PrepareAsync(string url, bool claim, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return new Prepared(null, null, new Failure(FetchErrors.UnsupportedUrl, $"{url}: the fetcher cannot request this URL.", false, null, null));
        }

        using var fetched = await fetcher.FetchAsync(uri, hosts, cancellationToken);
        if (fetched.PausedUntil is { } until)
        {
            return new Prepared(null, null, new Failure(null, null, true, null, until - time.GetUtcNow()));
        }

        if (fetched.Code is { } code)
        {
            return new Prepared(null, null, new Failure(code, $"{url}: {fetched.Detail}", fetched.IsTransient, fetched.HostPause, null));
        }

        try
        {
            using var image = EncodedImage.Open(fetched.Data!);
            using var slot = await gate.EnterDecodeAsync(image.DecodeBytes(ImageHashMode.Exact), cancellationToken);
            if (slot is null)
            {
                return new Prepared(null, null, new Failure(FetchErrors.Busy, "Every image decoder stayed busy.", true, null, null));
            }

            using var pixels = image.Decode(ImageHashMode.Exact);
            return claim
                ? new Prepared(AlignedVerifier.PrepareClaim(pixels), null, null)
                : new Prepared(null, AlignedVerifier.Prepare(pixels), null);
        }
        catch (ImageDecodeException e)
        {
            return new Prepared(null, null, new Failure(FetchErrors.UndecodableImage, $"{url}: {e.Message}", false, null, null));
        }
    }

    private async Task FailAsync(CheckRow check, string code, string detail, bool transient, TimeSpan? retryAfter, CancellationToken cancellationToken)
    {
        // Attempts counts this try: the store counts each as the check is taken.
        var final = !transient || check.Attempts >= _options.MaxAttempts;
        var wait = TimeSpan.FromTicks(Math.Min(_options.RefetchAfter.Ticks, _options.RetryBackoff.Ticks * (1L << (2 * Math.Clamp(check.Attempts - 1, 0, 10)))));
        if (retryAfter > wait)
        {
            wait = retryAfter.Value;
        }

        metrics.VerificationFailed(code, final);
        try
        {
            await store.FailAsync(Owner, check, $"{code}: {detail}", final, givenBack: false, wait, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Recording a failed aligned verification failed; it is tried again once its lease passes");
        }
    }
}

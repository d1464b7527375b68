using System.Collections.Concurrent;
using System.Diagnostics;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Imaging;
using ConsentRegistry.Imaging.LocalFeatures;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Fingerprints;

/// <summary>
/// Aligned verification (DESIGN.md 5.7), beside the fingerprint worker and wherever it runs: takes the checks the
/// pair recorder proposed (<see cref="ChecksPerTake"/> at once, under a lease; the checks one picture proposed
/// share its fetch and features), fetches both claimed pictures again through the guarded <see cref="ImageFetcher"/> (sharing the fingerprint worker's per-host
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
    /// <summary>
    /// Checks taken at once. A derived set proposes up to <c>Registry:Matching:AlignedCandidates</c> checks together,
    /// due together: taken together, its picture is fetched and its features found once for all of them.
    /// </summary>
    public const int ChecksPerTake = 4;

    private readonly WorkerOptions _options = options.Value;

    /// <summary>This worker's name in the leases it writes.</summary>
    public string Owner { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:aligned:{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Checks finished (compared, whatever the verdict) and checks whose try failed, since this worker started.</summary>
    public (long Compared, long Failed) Progress => (Interlocked.Read(ref _compared), Interlocked.Read(ref _failed));

    private long _compared;
    private long _failed;

    /// <summary>The checks whose leases this worker keeps while they run.</summary>
    private CheckRow[] _held = [];

    /// <summary>How often this worker drops the checks of claims revoked since they were proposed (takes pass them by meanwhile).</summary>
    public static readonly TimeSpan DropRevokedEvery = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var renewing = RenewLeasesAsync(stoppingToken);
        var dropAfter = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (time.GetUtcNow() >= dropAfter)
                {
                    dropAfter = time.GetUtcNow() + DropRevokedEvery;
                    if (await store.DropRevokedAsync(stoppingToken) is var dropped and > 0)
                    {
                        logger.LogInformation("Dropped {Checks} aligned verifications of revoked claims", dropped);
                    }
                }

                var taken = await store.TakeAsync(Owner, ChecksPerTake, _options.Lease, stoppingToken);
                if (taken.Count == 0)
                {
                    await Task.Delay(_options.PollInterval, time, stoppingToken);
                    continue;
                }

                Volatile.Write(ref _held, [.. taken]);
                var pictures = new Pictures(this, stoppingToken);
                await Task.WhenAll(taken.Select(check => RunAsync(check, pictures, stoppingToken)));
                Volatile.Write(ref _held, []);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Aligned verification could not reach the store; retrying");
                Volatile.Write(ref _held, []);
                await Task.Delay(_options.PollInterval, time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        await renewing.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>
    /// Renews the leases of the running checks every quarter of <see cref="WorkerOptions.Lease"/>: a check waits for
    /// its hosts' turns (shared with the fingerprint jobs) and fetches two pictures, which may take longer than a lease.
    /// </summary>
    private async Task RenewLeasesAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.Lease / 4, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (Volatile.Read(ref _held) is { Length: > 0 } held)
                {
                    try
                    {
                        await store.RenewAsync(Owner, held, _options.Lease, stoppingToken);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        logger.LogWarning(e, "Renewing the leases of running aligned verifications failed; retrying");
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// The pictures of one take, each fetched and prepared once however many of its checks name it (the checks one
    /// derived set proposed share its picture).
    /// </summary>
    private sealed class Pictures(AlignedVerificationWorker worker, CancellationToken cancellationToken)
    {
        private readonly ConcurrentDictionary<string, Lazy<Task<Prepared>>> _byUrl = new(StringComparer.Ordinal);

        public Task<Prepared> GetAsync(string url) =>
            _byUrl.GetOrAdd(url, u => new Lazy<Task<Prepared>>(() => worker.PrepareAsync(u, cancellationToken))).Value;
    }

    /// <summary>Runs one check: claim B's picture laid under (with its mirror image), claim A's laid over it.</summary>
    private async Task RunAsync(CheckRow check, Pictures pictures, CancellationToken cancellationToken)
    {
        await Task.Yield();
        AlignedComparison? comparison;
        try
        {
            if (check.Attempts > _options.MaxAttempts)
            {
                await FailAsync(check, FetchErrors.Interrupted, $"Each of its {_options.MaxAttempts} tries ended without a result.", transient: false, null, cancellationToken);
                return;
            }

            var under = await pictures.GetAsync(check.UrlB);
            var over = under.Failure is null ? await pictures.GetAsync(check.UrlA) : default;
            if ((under.Failure ?? over.Failure) is { } failure)
            {
                await (failure.PausedFor is { } pause
                    ? GiveBackAsync(check, pause, cancellationToken)
                    : FailAsync(check, failure.Code!, failure.Detail!, failure.Transient, failure.RetryAfter, cancellationToken));
                return;
            }

            comparison = await Task.Run(() =>
            {
                var claim = under.Claim!.Value; // its mirror image's features, found once needed: not part of the comparison's time
                var started = Stopwatch.GetTimestamp();
                var compared = AlignedVerifier.Compare(claim, over.Image!);
                metrics.AlignedCompared(Stopwatch.GetElapsedTime(started));
                return compared;
            }, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return; // stopping: the lease passes and the check is taken again
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "An aligned verification failed unexpectedly");
            await FailAsync(check, FetchErrors.FetchFailed, "The pictures could not be compared.", transient: true, null, cancellationToken);
            return;
        }

        // The store's errors are the store's, never the pictures': the check is taken again once its lease passes.
        var copy = AlignedVerifier.IsCopy(comparison);
        try
        {
            if (!await store.CompleteAsync(Owner, check, copy ? comparison!.Distance : null, time.GetUtcNow().ToUnixTimeSeconds(), cancellationToken))
            {
                return; // taken over by another worker, a claim revoked, or proposed again meanwhile: no verdict recorded
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Recording an aligned verification failed; it is tried again once its lease passes");
            return;
        }

        Interlocked.Increment(ref _compared);
        metrics.AlignedFinished(copy ? "copy" : "different", final: true);
        if (copy)
        {
            logger.LogInformation("Aligned verification: claims {ClaimA} and {ClaimB} hold copies of one picture ({Inliers} inliers, aligned PDQ distance {Distance})",
                check.ClaimA, check.ClaimB, comparison!.Inliers, comparison.Distance);
        }
    }

    /// <summary>Gives a check back untried: a host it needs asked for a pause.</summary>
    private async Task GiveBackAsync(CheckRow check, TimeSpan pause, CancellationToken cancellationToken)
    {
        try
        {
            await store.FailAsync(Owner, check, $"{FetchErrors.Busy}: Its host asked for a pause.", final: false, givenBack: true, pause, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Giving back an aligned verification failed; it is taken again once its lease passes");
        }
    }

    private readonly record struct Failure(string? Code, string? Detail, bool Transient, TimeSpan? RetryAfter, TimeSpan? PausedFor);

    /// <summary>A picture ready to be compared, either way round (its mirror image's features found once needed), or why it is not.</summary>
    private readonly record struct Prepared(AlignedImage? Image, Lazy<AlignedClaim>? Claim, Failure? Failure);

    /// <summary>Fetches and decodes one picture, under the decoders' gate, and finds its local features.</summary>
    private async Task<Prepared> PrepareAsync(string url, CancellationToken cancellationToken)
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

        metrics.Fetched(fetched.Took); // its requests' time, failed or not, as for a fingerprint job
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
            var plain = AlignedVerifier.Prepare(pixels);
            return new Prepared(plain, new Lazy<AlignedClaim>(() => new AlignedClaim(plain, AlignedVerifier.Prepare(plain.Gray.Mirrored()))), null);
        }
        catch (ImageDecodeException e)
        {
            return new Prepared(null, null, new Failure(FetchErrors.UndecodableImage, $"{url}: {e.Message}", false, null, null));
        }
    }

    private async Task FailAsync(CheckRow check, string code, string detail, bool transient, TimeSpan? retryAfter, CancellationToken cancellationToken)
    {
        // Attempts counts this try: the store counts each as the check is taken.
        // A final failure is tried again after the re-fetch interval, as the fingerprint job of a URL that failed is.
        var (final, wait) = _options.Retry(check.Attempts, transient, retryAfter);

        Interlocked.Increment(ref _failed);
        metrics.AlignedFinished(code, final);
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

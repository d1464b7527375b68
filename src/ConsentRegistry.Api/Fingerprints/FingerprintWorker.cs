using System.Diagnostics;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Imaging;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Fingerprints;

/// <summary>
/// The fingerprint worker (DESIGN.md 5.7): turns the log's url subjects into jobs, takes due jobs
/// (<see cref="WorkerOptions.Concurrency"/> at once, under a lease), fetches each image through
/// the guarded <see cref="ImageFetcher"/>, derives its fingerprints and appends them to the log,
/// where every instance's matching index picks them up. Transient failures are retried with
/// backoff (four times longer each time) up to <see cref="WorkerOptions.MaxAttempts"/>; a final
/// failure is kept with its reason until the next scheduled re-fetch.
/// </summary>
internal sealed class FingerprintWorker(
    FingerprintJobStore store,
    ImageFetcher fetcher,
    HostGate hosts,
    ImageFingerprinter fingerprinter,
    WorkerMetrics metrics,
    IOptions<WorkerOptions> options,
    IOptions<FetchOptions> fetchOptions,
    TimeProvider time,
    ILogger<FingerprintWorker> logger) : BackgroundService
{
    private readonly WorkerOptions _options = options.Value;
    /// <summary>The longest a finished job's result waits to be written with others.</summary>
    private static readonly TimeSpan WriteDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The longest a stopping worker tries to write its results and give its jobs back; the host's
    /// shutdown timeout (30 s by default) ends it sooner. The writes take milliseconds on an idle
    /// machine, but a store busy with other writers, or a loaded machine, can hold them for seconds.
    /// </summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(20);

    private readonly int _batch = Math.Max(1, options.Value.Concurrency / 4);
    private readonly int _perHost = fetchOptions.Value.PerHostConcurrency;
    private long _derived;
    private long _failed;

    /// <summary>The jobs whose leases this worker keeps: running, or finished and not written yet (the loop publishes them, <see cref="RenewLeasesAsync"/> reads them).</summary>
    private FingerprintJob[] _held = [];

    /// <summary>The token the host stops with: it is cancelled when the host's shutdown timeout passes.</summary>
    private CancellationToken _hostGivesUp;

    /// <summary>This worker's name in the leases it writes: host, process and a random part (two workers never share one).</summary>
    public string Owner { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Jobs this worker has derived fingerprints for, and jobs whose try failed, since it started.</summary>
    public (long Derived, long Failed) Progress => (Interlocked.Read(ref _derived), Interlocked.Read(ref _failed));

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        // Set before the base class cancels the loop, so the hand-back sees it.
        _hostGivesUp = cancellationToken;
        return base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        logger.LogInformation("Fingerprint worker {Owner} started: {Concurrency} jobs at once, {PerHost} per host",
            Owner, _options.Concurrency, fetchOptions.Value.PerHostConcurrency);
        var running = new List<(FingerprintJob Job, Task<JobCompletion?> Task)>();
        var finished = new List<JobCompletion>();
        long firstFinishedAt = 0;
        var renewing = RenewLeasesAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            var writing = false;
            try
            {
                // One pass a turn: a backlog of millions of subjects is enqueued pass by pass while
                // the jobs already queued are fetched, not before the first of them is taken.
                var caughtUp = await EnqueueAsync(stoppingToken);

                // Jobs are taken, and results written, a quarter of the slots at a time (or when
                // idle, or a result has waited WriteDelay): each is a commit, and commits, not
                // queries, are what the store spends most on per image.
                var free = _options.Concurrency - running.Count;
                if (free >= _batch || running.Count == 0)
                {
                    foreach (var job in await store.TakeAsync(Owner, free, _options.Lease, BusyHosts(running), _perHost, stoppingToken))
                    {
                        running.Add((job, RunAsync(job, stoppingToken)));
                    }

                    Hold(running, finished);
                }

                var poll = Task.Delay(finished.Count > 0 || !caughtUp ? WriteDelay : _options.PollInterval, time, stoppingToken);
                await (running.Count == 0 ? poll : Task.WhenAny(Task.WhenAny(running.Select(r => r.Task)), poll));
                running.RemoveAll(r =>
                {
                    var task = r.Task;
                    if (task.IsCompletedSuccessfully && task.Result is { } completion)
                    {
                        firstFinishedAt = finished.Count == 0 ? Stopwatch.GetTimestamp() : firstFinishedAt;
                        finished.Add(completion);
                    }
                    else if (task.IsFaulted)
                    {
                        // A job records its own failures: this one escaped that, so nothing was recorded
                        // and it is taken again once its lease passes.
                        logger.LogError(task.Exception, "A fingerprint job failed without its failure being recorded");
                    }

                    // A job cut off by the stop stays, to be given back (HandBackAsync): the stop wakes
                    // this wait too, and its jobs may have ended cancelled before it looks.
                    return task.IsCompleted && !(task.IsCanceled && stoppingToken.IsCancellationRequested);
                });

                if (finished.Count > 0 && (finished.Count >= _batch || running.Count == 0 || Stopwatch.GetElapsedTime(firstFinishedAt) >= WriteDelay))
                {
                    writing = true;
                    var written = await store.CompleteAsync(finished, stoppingToken);
                    writing = false;
                    Interlocked.Add(ref _derived, written);
                    metrics.Derived(written); // what the store took: not results whose lease had passed, nor revoked claims' results
                    finished.Clear();
                }

                Hold(running, finished);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The store is down or busy. Results whose write failed are let go: they are fetched
                // again once their leases pass. Results the failed step never touched (enqueueing,
                // taking) stay held, and are written with the next batch.
                logger.LogWarning(e, "The fingerprint worker could not reach the store; retrying");
                if (writing)
                {
                    finished.Clear();
                }

                Hold(running, finished);
                await Task.Delay(_options.PollInterval, time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        // Jobs in flight are cancelled with the host.
        await Task.WhenAll(running.Select(r => r.Task).Append(renewing)).ContinueWith(_ => { }, TaskScheduler.Default);
        await HandBackAsync(running, finished);
    }

    /// <summary>
    /// On stop (a restart, a rolling deploy): the results already finished are written and the jobs
    /// cut off are given back untried, before the host stops waiting (<see cref="StopGrace"/> at
    /// most). Left to their leases, each stop would count a try against every job under way (five
    /// stops mid-fetch fail a job as interrupted for a month) and fetch again images already
    /// fingerprinted. What cannot be written in time is left to the leases, as a crash leaves it.
    /// </summary>
    private async Task HandBackAsync(List<(FingerprintJob Job, Task<JobCompletion?> Task)> running, List<JobCompletion> finished)
    {
        finished.AddRange(running.Where(r => r.Task.IsCompletedSuccessfully && r.Task.Result is not null).Select(r => r.Task.Result!));
        var cutOff = running.Where(r => r.Task.IsCanceled).Select(r => r.Job).ToList();
        logger.LogDebug("Fingerprint worker {Owner} stopping with {Running} jobs under way ({CutOff} cut off) and {Finished} results to write",
            Owner, running.Count, cutOff.Count, finished.Count);
        if (finished.Count == 0 && cutOff.Count == 0)
        {
            return;
        }

        using var grace = CancellationTokenSource.CreateLinkedTokenSource(_hostGivesUp);
        grace.CancelAfter(StopGrace);
        try
        {
            if (finished.Count > 0)
            {
                var written = await store.CompleteAsync(finished, grace.Token);
                Interlocked.Add(ref _derived, written);
                metrics.Derived(written);
            }

            foreach (var job in cutOff)
            {
                await store.PostponeAsync(job, TimeSpan.Zero, grace.Token);
            }

            logger.LogInformation("Fingerprint worker {Owner} stopping: wrote {Finished} results and gave back {CutOff} jobs under way", Owner, finished.Count, cutOff.Count);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "The fingerprint worker could not hand its jobs back as it stopped; they are taken again once their leases pass");
        }
    }

    /// <summary>
    /// The hosts of which this worker already runs as many jobs as a host may have at once: a take
    /// passes over their jobs, which would only wait for the host's turn while other hosts' jobs
    /// waited for a slot of the worker's.
    /// </summary>
    private string[] BusyHosts(List<(FingerprintJob Job, Task<JobCompletion?> Task)> running) =>
        running.CountBy(r => FingerprintJobStore.HostOf(r.Job.Url), StringComparer.Ordinal)
            .Where(host => host.Value >= _perHost)
            .Select(host => host.Key)
            .ToArray();

    /// <summary>Publishes the jobs whose leases <see cref="RenewLeasesAsync"/> keeps.</summary>
    private void Hold(List<(FingerprintJob Job, Task<JobCompletion?> Task)> running, List<JobCompletion> finished) =>
        Volatile.Write(ref _held, [.. running.Select(r => r.Job), .. finished.Select(f => f.Job)]);

    /// <summary>
    /// Renews the leases of the jobs this worker holds every quarter of <see cref="WorkerOptions.Lease"/>,
    /// so that no other worker takes a job while it still runs here: a job may wait for its host's
    /// slot behind others and then fetch for up to the fetch timeout, longer than a lease. It runs
    /// beside the loop, so that a long stretch of enqueueing does not hold renewals up. A worker
    /// that dies renews nothing, and its jobs are taken over once their leases pass.
    /// </summary>
    private async Task RenewLeasesAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.Lease / 4, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var held = Volatile.Read(ref _held);
                if (held.Length == 0)
                {
                    continue;
                }

                try
                {
                    await store.RenewAsync(held, _options.Lease, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Renewing the leases of running fingerprint jobs failed; retrying");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Turns one stretch of the log into jobs (<see cref="FingerprintJobStore.EnqueueSubjectsPerPass"/>
    /// subjects at most) and says whether the queue has caught up with the log; the loop runs the
    /// next pass on its next turn, after taking jobs, so a long backlog holds no fetching up.
    /// </summary>
    private async Task<bool> EnqueueAsync(CancellationToken cancellationToken)
    {
        var (added, caughtUp) = await store.EnqueueAsync(cancellationToken);
        metrics.Enqueued(added);
        if (!caughtUp)
        {
            logger.LogInformation("Queued {Jobs} image fetches from the log; more to come", added);
        }
        else if (added > 0)
        {
            logger.LogDebug("Queued {Jobs} image fetches", added);
        }

        return caughtUp;
    }

    private async Task<JobCompletion?> RunAsync(FingerprintJob job, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            // Taken once more than it may be tried: every try so far ended without a result, its
            // worker stopped (an image that crashes the process or exhausts its memory does that
            // every time). It is not fetched again until the next re-fetch.
            if (job.Attempts > _options.MaxAttempts)
            {
                await FailAsync(job, FetchErrors.Interrupted, $"Each of its {_options.MaxAttempts} tries ended without a result: the worker that took it stopped (crashed, killed, out of memory).", transient: false, null, cancellationToken);
                return null;
            }

            // The canonical URL follows WHATWG, whose hosts may hold characters (such as *) that no
            // DNS name has and .NET's Uri refuses: no request can be made for such a URL, ever.
            if (!Uri.TryCreate(job.Url, UriKind.Absolute, out var uri))
            {
                await FailAsync(job, FetchErrors.UnsupportedUrl, "The fetcher cannot request this URL: its host is not a valid DNS name.", transient: false, null, cancellationToken);
                return null;
            }

            using var fetched = await fetcher.FetchAsync(uri, hosts, cancellationToken);
            if (fetched.PausedUntil is { } pausedUntil)
            {
                // Its host (or a host it redirects to) asked for a pause: the job waits, untried.
                await PostponeAsync(job, pausedUntil - time.GetUtcNow(), cancellationToken);
                return null;
            }

            metrics.Fetched(fetched.Took); // its requests' time, not its wait for the host's turn
            if (fetched.Code is { } code)
            {
                await FailAsync(job, code, fetched.Detail!, fetched.IsTransient, fetched.HostPause, cancellationToken);
                return null;
            }

            var started = Stopwatch.GetTimestamp();
            var fingerprints = await fingerprinter.ComputeAsync(fetched, cancellationToken);
            metrics.Fingerprinted(Stopwatch.GetElapsedTime(started));
            return new JobCompletion(job, fingerprints.Subjects(), fingerprints.Sha256, fingerprints.Pdq, fingerprints.Quality,
                fingerprints.Embedding?.Model, time.GetUtcNow(), _options.RefetchAfter);
        }
        catch (ImageDecodeException e)
        {
            await FailAsync(job, FetchErrors.UndecodableImage, e.Message, transient: false, null, cancellationToken);
        }
        catch (ImageDecoderBusyException e)
        {
            await FailAsync(job, FetchErrors.Busy, e.Message, transient: true, null, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Only the fetch and the fingerprinting get here: the store's errors are caught where
            // it is called (PostponeAsync, FailAsync) and never recorded as the image's failure.
            logger.LogWarning(e, "A fingerprint job failed unexpectedly");
            await FailAsync(job, FetchErrors.FetchFailed, "The image could not be fingerprinted.", transient: true, null, cancellationToken);
        }

        return null;
    }

    /// <summary>
    /// Gives the job back untried. A store error here is the store's, not the image's: it is
    /// logged, not recorded as a failed fetch (it was a fetch-failed try, counted in the metrics
    /// and the job's error). The job stays leased and is taken again once its lease passes, which
    /// counts a try like any lease that passes without a result.
    /// </summary>
    private async Task PostponeAsync(FingerprintJob job, TimeSpan wait, CancellationToken cancellationToken)
    {
        try
        {
            await store.PostponeAsync(job, wait, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Postponing a fingerprint job for its host's pause failed; it is taken again once its lease passes");
        }
    }

    private async Task FailAsync(FingerprintJob job, string code, string detail, bool transient, TimeSpan? retryAfter, CancellationToken cancellationToken)
    {
        // A try that fails as the worker stops may have failed of the stop (a fetch cut off): it is
        // not recorded, and the job is given back untried with the others cut off (HandBackAsync).
        cancellationToken.ThrowIfCancellationRequested();

        // Attempts counts this try: the store counts each as the job is taken.
        var (final, wait) = _options.Retry(job.Attempts, transient, retryAfter);

        Interlocked.Increment(ref _failed);
        metrics.JobFinished(code, final);
        try
        {
            await store.FailAsync(job, $"{code}: {detail}", final, wait, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Recording a failed fingerprint job failed; it is tried again once its lease passes");
        }
    }
}

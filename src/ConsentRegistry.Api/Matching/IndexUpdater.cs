using System.Diagnostics;
using System.Threading.Channels;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Snapshots;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Snapshots;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Matching;

/// <summary>
/// Builds the matching index at start-up, from the newest valid snapshot and the log after it or
/// else from the whole store, then keeps it current: it applies the log after the last seq it
/// has, when this instance commits (as the writer's <see cref="ICommittedLogListener"/>), when
/// PostgreSQL notifies that another instance did, and at least every <see cref="PollInterval"/>
/// in any case.
/// </summary>
public sealed class IndexUpdater(
    SharedMatchingIndex index,
    LogReader log,
    RegistryDatabase database,
    SnapshotFolder snapshots,
    IOptions<SnapshotOptions> snapshotOptions,
    ILogger<IndexUpdater> logger) : BackgroundService, ICommittedLogListener
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a request waits for the index to reach this instance's own last write.</summary>
    public static readonly TimeSpan ReadYourWritesWait = TimeSpan.FromSeconds(1);

    /// <summary>How long this instance's writer waits for the index before it leaves its commit to the log pass.</summary>
    private static readonly TimeSpan OwnCommitWait = TimeSpan.FromMilliseconds(50);

    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Completed (and replaced) each time the index advances: waiters wake on it instead of polling.</summary>
    private TaskCompletionSource _advanced = NewSignal();

    private long _lastCommittedSeq;

    /// <summary>Guards the two fields after it: the merges this instance's commits put off.</summary>
    private readonly Lock _putOff = new();

    /// <summary>When the oldest commit whose merges wait was applied (<see cref="Stopwatch.GetTimestamp"/>), or 0: none wait.</summary>
    private long _mergesPutOffSince;

    /// <summary>Commits applied without merging: a merge clears the flag above only if none came since it started.</summary>
    private long _putOffApplies;

    /// <summary>How long merges a failed catch-up left (a snapshot was being written) wait before the log pass runs them.</summary>
    private static readonly TimeSpan StaleMerges = TimeSpan.FromSeconds(1);

    /// <summary>
    /// When the last pass over the log succeeded (the build counts as one; until it ends, when the
    /// updater was made), <see cref="Stopwatch.GetTimestamp"/>. A pass runs at least every
    /// <see cref="PollInterval"/> whether or not the log grew, so its age is how stale the index
    /// may be: the index lag only counts this instance's own commits, and a failing pass only logs.
    /// </summary>
    private long _lastPass = Stopwatch.GetTimestamp();

    /// <summary>How long since the last pass over the log succeeded (see <see cref="StaleAfter"/>).</summary>
    public TimeSpan SinceLastPass => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastPass));

    /// <summary>
    /// Past this without a successful pass, /health/ready reports the index Degraded: it still
    /// answers lookups, but other instances' claims and revocations no longer reach it. Settable
    /// for tests only.
    /// </summary>
    internal TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Whether no pass has succeeded for longer than <see cref="StaleAfter"/>.</summary>
    public bool IsStale => SinceLastPass > StaleAfter;

    private void PassSucceeded() => Volatile.Write(ref _lastPass, Stopwatch.GetTimestamp());

    /// <summary>The last seq this instance's writer has committed.</summary>
    public long LastCommittedSeq => Volatile.Read(ref _lastCommittedSeq);

    /// <summary>Read-your-writes on one instance: waits (up to <see cref="ReadYourWritesWait"/>) until the index reflects this instance's last commit.</summary>
    public Task WaitForOwnWritesAsync(CancellationToken cancellationToken) =>
        WaitForAsync(LastCommittedSeq, ReadYourWritesWait, cancellationToken);

    /// <summary>Waits (at most <paramref name="timeout"/>) until the index reflects <paramref name="seq"/>.</summary>
    public async Task WaitForAsync(long seq, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (index.AppliedSeq >= seq)
        {
            return;
        }

        Wake();
        var deadline = TimeProvider.System.GetTimestamp() + (long)(timeout.TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (true)
        {
            var advanced = Volatile.Read(ref _advanced).Task; // read before the check: an advance in between completes it
            var left = deadline - TimeProvider.System.GetTimestamp();
            if (index.AppliedSeq >= seq || left <= 0)
            {
                return;
            }

            try
            {
                await advanced.WaitAsync(TimeSpan.FromSeconds((double)left / TimeProvider.System.TimestampFrequency), cancellationToken);
            }
            catch (TimeoutException)
            {
                return;
            }
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void SignalAdvanced() => Interlocked.Exchange(ref _advanced, NewSignal()).TrySetResult();

    private void Wake() => _wake.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await BuildAsync(stoppingToken);
        var listening = ListenAsync(stoppingToken);
        long? resumeFrom = null; // after a failed pass, where it started (see BuildAsync)

        while (!stoppingToken.IsCancellationRequested)
        {
            using (var poll = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
            {
                poll.CancelAfter(PollInterval);
                try
                {
                    await _wake.Reader.ReadAsync(poll.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // poll interval elapsed
                }
            }

            var applied = resumeFrom ?? index.AppliedSeq;
            try
            {
                if (await log.ApplyAsync(applied, index.Write, stoppingToken) > applied)
                {
                    SignalAdvanced();
                }

                resumeFrom = null;
                PassSucceeded();
                MergePutOff(StaleMerges);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                resumeFrom = applied;
                logger.LogWarning(e, "Updating the matching index after seq {Seq} failed; retrying", applied);
                await Task.Delay(PollInterval, stoppingToken);
            }
        }

        await listening;
    }

    /// <summary>
    /// This instance's own commits go into the index directly, without reading back (and
    /// re-parsing) what was just written, when they follow on from what the index has. If another
    /// instance wrote in between, or the index is still being built, the store is read instead.
    /// </summary>
    public void OnCommitted(CommittedBatch batch)
    {
        InterlockedMax(ref _lastCommittedSeq, batch.LastSeq);
        var applied = false;

        // Not waiting long for the index: a snapshot being written or a large merge holds it for
        // seconds, and intake must not stall behind it; the log pass then brings the batch in.
        index.TryWrite(i =>
        {
            // Mid-pass, the pass's older revocations and trust changes are still to come and would
            // overwrite the batch's: the next pass brings the batch in, in order.
            if (!index.IsReady || i.InLogPass || i.AppliedSeq != batch.FirstSeq - 1)
            {
                return;
            }

            foreach (var (seq, entry) in batch.Entries)
            {
                switch (entry)
                {
                    case LogEntry.Claim { Verified: var c }:
                        i.Add(new IndexedClaim(c.Id, seq, c.Party, c.Iat, c.Usage, TrustLevel.Signed, false, c.Subjects));
                        break;
                    case LogEntry.Revocation { Verified: var r }:
                        i.Revoke(r.Revokes, seq);
                        break;
                    case LogEntry.TrustChange t:
                        i.SetTrust(t.ClaimId, t.Trust, seq);
                        break;
                    default:
                        throw new UnreachableException();
                }
            }

            i.MarkApplied(batch.LastSeq);
            applied = true;
        }, OwnCommitWait, merge: false);

        if (applied)
        {
            lock (_putOff)
            {
                _putOffApplies++;
                if (_mergesPutOffSince == 0)
                {
                    _mergesPutOffSince = Stopwatch.GetTimestamp();
                }
            }

            SignalAdvanced();
        }
        else
        {
            Wake();
        }
    }

    /// <summary>
    /// The merges this instance's commits made due, run once the writer has answered their callers
    /// (<see cref="ICommittedLogListener.OnCallersAnswered"/>), without waiting: if another writer
    /// holds the index (a snapshot being written, a log pass), the log pass runs them once they
    /// have waited <see cref="StaleMerges"/>.
    /// </summary>
    public void OnCallersAnswered() => MergePutOff(TimeSpan.Zero);

    /// <summary>Runs the merges commits put off, if some have waited <paramref name="olderThan"/> and no other writer holds the index.</summary>
    private void MergePutOff(TimeSpan olderThan)
    {
        long applies;
        lock (_putOff)
        {
            if (_mergesPutOffSince == 0 || Stopwatch.GetElapsedTime(_mergesPutOffSince) < olderThan)
            {
                return;
            }

            applies = _putOffApplies;
        }

        if (!index.TryMerge(TimeSpan.Zero))
        {
            return;
        }

        lock (_putOff)
        {
            // A commit applied since the count was read may have left merges of its own: they still wait.
            if (_putOffApplies == applies)
            {
                _mergesPutOffSince = 0;
            }
        }
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private async Task BuildAsync(CancellationToken stoppingToken)
    {
        var clock = Stopwatch.StartNew();
        SnapshotManifest? snapshot = null;
        while (true)
        {
            try
            {
                if (snapshotOptions.Value.Enabled && snapshot is null && index.AppliedSeq == 0)
                {
                    var (store, lastSeq) = (await log.StoreIdAsync(stoppingToken), await log.LastSeqAsync(stoppingToken));
                    snapshot = snapshots.LoadNewest(index, store, lastSeq);
                }

                // From the snapshot's seq, not the index's: a failed pass may have applied claims
                // past revocations it had yet to apply (applying again is idempotent).
                await log.ApplyAsync(snapshot?.Seq ?? 0, index.Write, stoppingToken);
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Building the matching index failed; retrying in 5 s");
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
            }
        }

        // A loaded snapshot keeps its segments: rewriting them whole would cost more than it saved.
        if (snapshot is null)
        {
            index.Write(static built => built.Compact());

            // The build parsed every claim and merged segments as it went: give that heap back
            // before serving (at 100 million subjects the process held 6.8 GiB after the build,
            // against 2.8 after a start from a snapshot).
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }

        index.MarkReady(compact: false);
        PassSucceeded();
        SignalAdvanced();
        var (claims, subjects) = index.Size();
        logger.LogInformation(
            "Matching index ready at seq {Seq}: {Claims} claims, {Subjects} subjects, built in {Elapsed} ms {Source}",
            index.AppliedSeq, claims, subjects, clock.ElapsedMilliseconds,
            snapshot is null ? "from the store" : $"from snapshot {snapshot.Id} and the log after its seq {snapshot.Seq}");
    }

    private async Task ListenAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await database.ListenForAppendsAsync(Wake, stoppingToken);
                return; // this engine has no notifications: polling alone keeps the index current
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Listening for log notifications failed; polling meanwhile, retrying in 5 s");
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }
}

/// <summary>
/// Ready only once the matching index has been built; Degraded (still HTTP 200) while no pass over
/// the log has succeeded for <see cref="IndexUpdater.StaleAfter"/>: lookups are still answered,
/// from an index that no longer sees other instances' claims and revocations.
/// </summary>
internal sealed class MatchingIndexHealthCheck(SharedMatchingIndex index, IndexUpdater updater, SnapshotFolder snapshots)
    : Microsoft.Extensions.Diagnostics.HealthChecks.IHealthCheck
{
    public Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult> CheckHealthAsync(
        Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!index.IsReady)
        {
            return Task.FromResult(Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy("building"));
        }

        var built = snapshots.StartedFrom is { } snapshot
            ? $"built, at seq {index.AppliedSeq}; started from snapshot {snapshot.Id}"
            : $"built, at seq {index.AppliedSeq}; started from the store";
        return Task.FromResult(updater.IsStale
            ? Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Degraded(
                $"{built}; not updated from the store for {updater.SinceLastPass.TotalSeconds:0} s")
            : Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy(built));
    }
}

using System.Diagnostics;
using System.Threading.Channels;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// The single writer of the registry's log (claims, revocations, trust changes). Requests queue
/// here and are written in batches: one transaction, one durable commit and one turn of the
/// sequence lock for many entries. Seqs are assigned inside that transaction, so they are
/// gap-free and unique however many requests (or instances) write at once, and a request is
/// answered only after its commit and after <see cref="ICommittedLogListener"/> (this instance's
/// matching index) has been told. Small entries (an artist's claim, a revocation, a trust change)
/// queue apart from large claims and are written first, and large claims are written at most
/// 10,000 subjects a batch (one claim at least; a claim weighs its subjects or its size, whichever is
/// more, <see cref="WeightOf"/>): a small claim waits behind that much at most (a
/// 10,000-subject claim takes 100 to 300 ms to write and index), never behind a queue of them.
/// A large claim waits for small ones <see cref="MaxLargeWait"/> at most; past that, large and small
/// batches take turns, so that neither lane starves the other.
/// </summary>
public sealed partial class ClaimWriter(
    ClaimLogStore store,
    TimeProvider time,
    ILogger<ClaimWriter> logger,
    IEnumerable<ICommittedLogListener> listeners,
    IClaimIntakeTrust? intakeTrust = null) : BackgroundService
{
    private const int MaxBatchEntries = 256;
    private const int MaxBatchSubjects = 50_000;

    /// <summary>Claims that weigh more than this (<see cref="WeightOf"/>) are large: they queue apart and go after the small entries.</summary>
    public const int MaxSmallEntrySubjects = 1_000;

    /// <summary>The weight of large claims written together: a batch takes no claim that would bring it past this (but always one).</summary>
    private const int MaxLargeBatchSubjects = 10_000;

    /// <summary>Characters of signed claim that weigh as much as a subject: a long URL, signed, takes about half as many.</summary>
    private const int CharsPerSubject = 256;

    private readonly ICommittedLogListener[] _listeners = listeners.ToArray();

    private readonly Channel<Pending> _small = Queue();
    private readonly Channel<Pending> _large = Queue();

    /// <summary>Whether the last batch written was of large claims (read and written by the writer's thread only).</summary>
    private bool _lastWasLarge;

    /// <summary>How long the oldest large claim may wait while small entries keep coming before it goes next (tests shorten or lengthen it).</summary>
    internal TimeSpan MaxLargeWait { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How long small entries that keep arriving may put off the listeners' catching up
    /// (<see cref="ICommittedLogListener.OnCallersAnswered"/>): while batches keep coming, the
    /// index's merges run between them at least this often, so that lookups never read an ever
    /// longer list of segments (tests change it).
    /// </summary>
    internal TimeSpan MaxCatchUpDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>When the first batch since the listeners last caught up was answered (<see cref="Stopwatch.GetTimestamp"/>), or 0.</summary>
    private long _answeredSince;

    /// <summary>Entries waiting to be written now, small and large.</summary>
    internal (int Small, int Large) Queued => (_small.Reader.Count, _large.Reader.Count);

    public Task<AppendResult> AppendClaimAsync(VerifiedClaim claim, CancellationToken cancellationToken) =>
        EnqueueAsync(new Pending(new LogEntry.Claim(claim), WeightOf(claim.Subjects.Count, claim.Jws.Length)), cancellationToken);

    /// <summary>
    /// What a claim weighs in the writer's queues and batches: its subjects, or its size in
    /// <see cref="CharsPerSubject"/>, whichever is more. By subjects alone, a claim of a few hundred
    /// very long URLs (several MB) was small, and a small batch could hold hundreds of them: far more
    /// than the one large batch an artist's claim may wait behind.
    /// </summary>
    internal static int WeightOf(int subjects, int jwsChars) => Math.Max(subjects, (jwsChars + CharsPerSubject - 1) / CharsPerSubject);

    public Task<AppendResult> AppendRevocationAsync(VerifiedRevocation revocation, CancellationToken cancellationToken) =>
        EnqueueAsync(new Pending(new LogEntry.Revocation(revocation), 0), cancellationToken);

    public Task<AppendResult> SetTrustAsync(string claimId, TrustLevel trust, string reason, CancellationToken cancellationToken) =>
        EnqueueAsync(new Pending(new LogEntry.TrustChange(claimId, trust, reason), 0), cancellationToken);

    /// <summary>
    /// Moves an unrevoked claim from <paramref name="from"/> to <paramref name="trust"/>, and with
    /// <paramref name="whenVouchedFor"/> only if the verified hosts (do or do not) vouch for it; Unchanged otherwise.
    /// </summary>
    public Task<AppendResult> SetTrustIfAsync(
        string claimId, TrustLevel from, TrustLevel trust, string reason, CancellationToken cancellationToken, bool? whenVouchedFor = null) =>
        EnqueueAsync(new Pending(new LogEntry.TrustChange(claimId, trust, reason, from, whenVouchedFor), 0), cancellationToken);

    private async Task<AppendResult> EnqueueAsync(Pending pending, CancellationToken cancellationToken)
    {
        await (pending.Weight > MaxSmallEntrySubjects ? _large : _small).Writer.WriteAsync(pending, cancellationToken);
        // Once queued the entry is written even if this caller goes away: the client may retry
        // with the same JWS and will get the same id and seq.
        return await pending.Completion.Task;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _small.Writer.TryComplete();
        _large.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    /// <summary>
    /// Runs the writer on a thread of its own. On SQLite every store call completes synchronously,
    /// so a writer on the thread pool held one of its threads for whole runs of batches, and the
    /// callers it completed waited in that thread's local queue until the run ended: during a burst
    /// of large claims, an artist's claim committed 3 to 26 ms after it arrived resumed 30 to 95 ms
    /// after its commit (docs/benchmarks.md, abuse resistance). Completed from this thread, callers resume on
    /// the pool at once. On PostgreSQL the thread waits while the store's I/O is under way.
    /// </summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Run();
                stopped.TrySetResult();
            }
            catch (Exception e)
            {
                stopped.TrySetException(e);
            }
        })
        {
            IsBackground = true,
            Name = "Claim log writer",
        };
        thread.Start();
        return stopped.Task;
    }

    private void Run()
    {
        var batch = new List<Pending>(MaxBatchEntries);
        // Drain everything queued before shutdown: each of those callers is waiting for an answer.
        while (WaitForEntries())
        {
            batch.Clear();
            _lastWasLarge = LargeGoesNext();
            var (queue, maxWeight) = _lastWasLarge ? (_large, MaxLargeBatchSubjects) : (_small, MaxBatchSubjects);
            var weight = 0;
            while (batch.Count < MaxBatchEntries && queue.Reader.TryPeek(out var next) && (batch.Count == 0 || weight + next.Weight <= maxWeight))
            {
                queue.Reader.TryRead(out _);
                batch.Add(next);
                weight += next.Weight;
            }

            WriteAsync(batch).GetAwaiter().GetResult();
            CatchUpUnlessSmallWait();
        }
    }

    /// <summary>
    /// After a batch's callers are answered, the listeners catch up (the index's merges, which
    /// after a large claim took up to 56 ms on PostgreSQL in the abuse benchmark's burst), unless
    /// a small entry is waiting: then after the batch that answers it, or once
    /// <see cref="MaxCatchUpDelay"/> has passed.
    /// </summary>
    private void CatchUpUnlessSmallWait()
    {
        if (_answeredSince == 0)
        {
            _answeredSince = Stopwatch.GetTimestamp();
        }

        if (_small.Reader.Count > 0 && Stopwatch.GetElapsedTime(_answeredSince) < MaxCatchUpDelay)
        {
            return;
        }

        _answeredSince = 0;
        foreach (var listener in _listeners)
        {
            try
            {
                listener.OnCallersAnswered();
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "A listener of committed log entries failed to catch up");
            }
        }
    }

    /// <summary>
    /// Large claims go when no small entry waits, or when the oldest of them has waited
    /// <see cref="MaxLargeWait"/> and the last batch was small: a steady stream of small entries
    /// delays them, never starves them, and a burst of large claims that have all waited that long
    /// (each 100 to 300 ms to write on PostgreSQL) lets the small entries through between any two of
    /// them, rather than holding an artist's claim behind the whole burst.
    /// </summary>
    private bool LargeGoesNext() =>
        _large.Reader.TryPeek(out var oldest)
        && (_small.Reader.Count == 0 || (!_lastWasLarge && Stopwatch.GetElapsedTime(oldest.Queued) >= MaxLargeWait));

    /// <summary>True once either queue holds an entry; false when both are completed and empty. Blocks the writer's thread.</summary>
    private bool WaitForEntries()
    {
        while (_small.Reader.Count == 0 && _large.Reader.Count == 0)
        {
            var open = new[] { _small, _large }.Where(queue => !queue.Reader.Completion.IsCompleted).ToList();
            if (open.Count == 0)
            {
                return false;
            }

            // Wait on both; the wait not woken is cancelled, so that no waiter is left behind on a quiet queue.
            using var woken = new CancellationTokenSource();
            var waits = open.ConvertAll(queue => queue.Reader.WaitToReadAsync(woken.Token).AsTask());
            Task.WaitAny([.. waits]);
            woken.Cancel();
            try
            {
                Task.WaitAll([.. waits]);
            }
            catch (AggregateException)
            {
                // the wait that was cancelled
            }
        }

        return true;
    }

    private static Channel<Pending> Queue() => Channel.CreateBounded<Pending>(
        new BoundedChannelOptions(4096) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private async Task WriteAsync(List<Pending> batch)
    {
        try
        {
            var results = await AppendBatchAsync(batch, CancellationToken.None);
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Completion.TrySetResult(results[i]);
            }
        }
        catch (Exception e) when (batch.Count > 1 && TransientStoreErrors.IsUnavailable(e))
        {
            // The store cannot be used for now, whatever the entries: one by one, each would wait
            // out the same timeout in turn (a batch of 256 behind a 15 s connect timeout: an hour).
            // Every caller gets the 503 with Retry-After now and sends again. A statement timeout or
            // a deadlock depends on the batch: those are retried one by one below.
            logger.LogWarning(e, "Writing a batch of {Count} log entries failed; the store is unavailable", batch.Count);
            foreach (var pending in batch)
            {
                pending.Completion.TrySetException(e);
            }
        }
        catch (Exception e) when (batch.Count > 1)
        {
            // Retry one by one so that only the entry at fault (if any) fails.
            logger.LogWarning(e, "Writing a batch of {Count} log entries failed; retrying them one at a time", batch.Count);
            foreach (var pending in batch)
            {
                await WriteAsync([pending]);
            }
        }
        catch (Exception e)
        {
            logger.LogError(e, "Writing a log entry failed");
            batch[0].Completion.TrySetException(e);
        }
    }

    private void Publish(CommittedBatch batch)
    {
        foreach (var listener in _listeners)
        {
            try
            {
                listener.OnCommitted(batch);
            }
            catch (Exception e)
            {
                // The commit stands; a listener that failed catches up from the store.
                logger.LogWarning(e, "A listener of committed log entries failed");
            }
        }
    }

    /// <summary>An entry waiting to be written; <see cref="Weight"/>: a claim's <see cref="WeightOf"/>, 0 for the rest.</summary>
    private sealed record Pending(LogEntry Entry, int Weight)
    {
        public TaskCompletionSource<AppendResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>When the entry was queued (<see cref="Stopwatch.GetTimestamp"/>).</summary>
        public long Queued { get; } = Stopwatch.GetTimestamp();
    }
}

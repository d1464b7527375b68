using System.Diagnostics;
using System.Threading.Channels;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Api.Matching;

/// <summary>
/// Builds the matching index from the store at start-up, then keeps it current: it applies the
/// log after the last seq it has, when this instance commits, when PostgreSQL notifies that
/// another instance did, and at least every <see cref="PollInterval"/> in any case.
/// </summary>
public sealed class IndexUpdater(
    SharedMatchingIndex index,
    LogReader log,
    RegistryDatabase database,
    ClaimLog writer,
    ILogger<IndexUpdater> logger) : BackgroundService
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>How long a request waits for the index to reach this instance's own last write.</summary>
    public static readonly TimeSpan ReadYourWritesWait = TimeSpan.FromSeconds(1);

    /// <summary>Read-your-writes on one instance: waits (up to <see cref="ReadYourWritesWait"/>) until the index reflects this instance's last commit.</summary>
    public Task WaitForOwnWritesAsync(CancellationToken cancellationToken) =>
        WaitForAsync(writer.LastCommittedSeq, ReadYourWritesWait, cancellationToken);

    /// <summary>Waits (briefly) until the index reflects <paramref name="seq"/>: read-your-writes on one instance.</summary>
    public async Task WaitForAsync(long seq, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (index.AppliedSeq >= seq)
        {
            return;
        }

        Wake();
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (index.AppliedSeq < seq && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(2, cancellationToken);
        }
    }

    private void Wake() => _wake.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await BuildAsync(stoppingToken);
        writer.Committed += ApplyCommitted;
        var listening = ListenAsync(stoppingToken);

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

            var applied = index.AppliedSeq;
            try
            {
                await log.ApplyAsync(applied, index.Write, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Updating the matching index after seq {Seq} failed; retrying", applied);
                await Task.Delay(PollInterval, stoppingToken);
            }
        }

        await listening;
    }

    /// <summary>
    /// This instance's own commits go into the index directly, without reading back (and
    /// re-parsing) what was just written, when they follow on from what the index has. If another
    /// instance wrote in between, the store is read instead.
    /// </summary>
    private void ApplyCommitted(CommittedBatch batch)
    {
        var applied = false;
        index.Write(i =>
        {
            if (i.AppliedSeq != batch.FirstSeq - 1)
            {
                return;
            }

            foreach (var (seq, entry) in batch.Entries)
            {
                switch (entry)
                {
                    case VerifiedClaim c:
                        i.Add(new IndexedClaim(c.Id, seq, c.Party, c.Iat, c.Usage, TrustLevel.Signed, false, c.Subjects));
                        break;
                    case VerifiedRevocation r:
                        i.Revoke(r.Revokes, seq);
                        break;
                    case TrustChange t:
                        i.SetTrust(t.ClaimId, t.Trust, seq);
                        break;
                }
            }

            i.MarkApplied(batch.LastSeq);
            applied = true;
        });

        if (!applied)
        {
            Wake();
        }
    }

    private async Task BuildAsync(CancellationToken stoppingToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await log.ApplyAsync(0, index.Write, stoppingToken);
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Building the matching index failed; retrying in 5 s");
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
            }
        }

        index.MarkReady();
        var (claims, subjects) = index.Size();
        logger.LogInformation(
            "Matching index ready at seq {Seq}: {Claims} claims, {Subjects} subjects, built in {Elapsed} ms",
            index.AppliedSeq, claims, subjects, clock.ElapsedMilliseconds);
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

/// <summary>Ready only once the matching index has been built.</summary>
internal sealed class MatchingIndexHealthCheck(SharedMatchingIndex index) : Microsoft.Extensions.Diagnostics.HealthChecks.IHealthCheck
{
    public Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult> CheckHealthAsync(
        Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(index.IsReady
            ? Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy($"built, at seq {index.AppliedSeq}")
            : Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy("building"));
}

using ConsentRegistry.Api.Hosting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Verification;

/// <summary>What one re-check pass did.</summary>
internal sealed record RecheckSummary(int Due, int Checked, int StillVerified, int Failing, int Lapsed, int Superseded, int ClaimsLowered);

/// <summary>How one re-checked row ended: <see cref="Superseded"/> when a verification wrote it while it was being checked.</summary>
internal enum RecheckState
{
    Verified,
    Failing,
    Lapsed,
    Superseded,
}

/// <summary>
/// Re-fetches verified hosts' documents. A host that answers and no longer lists the key, or
/// answers 404/410, lapses at once; any other failure (timeouts, connection errors, 5xx, a broken
/// file) lapses only when it persists across <see cref="FailuresBeforeLapse"/> consecutive checks,
/// so a host's bad hour does not cost an artist her consents. A lapse lowers the claims the
/// verification raised (never reviewed ones) back to signed; that lowering is owed in the lapse's
/// own transaction, so one that fails or is cut short is finished by the next pass (or start).
/// A check that leaves the host verified reconciles nothing: the party's verified hosts did not
/// change, and a raise that a verification left undone is owed since that verification's commit.
/// A pass takes at most <see cref="MaxPerPass"/> rows, oldest check first, so its length is
/// bounded whatever the table holds.
/// </summary>
internal sealed class DomainRechecks(
    WellKnownFetcher fetcher, DomainVerificationStore store, DomainVerifier verifier, TimeProvider time, ILogger<DomainRechecks> logger)
{
    public const int FailuresBeforeLapse = 3;
    public const int MaxPerPass = 10_000;
    private const int Parallelism = 4;

    /// <summary>Checks every verification last checked at least <paramref name="minAge"/> ago (zero: all of them).</summary>
    public async Task<RecheckSummary> RecheckAsync(TimeSpan minAge, CancellationToken cancellationToken)
    {
        try
        {
            await SettleOwedAsync(cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Reading the reconciliations owed since changes of verified hosts failed; this pass checks the verifications, the next retries them");
        }

        // Zero means every row, even one whose last_checked_at was nudged a second ahead of the clock (TryTakeForCheckAsync).
        var dueBefore = minAge <= TimeSpan.Zero ? long.MaxValue : Now() - (long)minAge.TotalSeconds;
        var due = await store.DueAsync(dueBefore, MaxPerPass, cancellationToken);
        if (due.Count > 0)
        {
            logger.LogInformation("Re-checking {Due} domain verifications", due.Count);
        }

        int done = 0, verified = 0, failing = 0, lapsed = 0, superseded = 0, lowered = 0;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(due, parallel, async (row, ct) =>
        {
            if (await store.TryTakeForCheckAsync(row, Now(), ct) is not { } takenAt)
            {
                return; // another replica is checking it, or a verification just wrote it
            }

            var (state, claimsLowered) = await CheckOrCountFailureAsync(row, takenAt, ct);
            Interlocked.Add(ref lowered, claimsLowered);
            switch (state)
            {
                case RecheckState.Verified: Interlocked.Increment(ref verified); break;
                case RecheckState.Failing: Interlocked.Increment(ref failing); break;
                case RecheckState.Lapsed: Interlocked.Increment(ref lapsed); break;
                default: Interlocked.Increment(ref superseded); break;
            }

            var count = Interlocked.Increment(ref done);
            if (count % 100 == 0)
            {
                logger.LogInformation("Re-checked {Checked} of {Due} domain verifications", count, due.Count);
            }
        });

        var summary = new RecheckSummary(due.Count, done, verified, failing, lapsed, superseded, lowered);
        if (due.Count > 0)
        {
            logger.LogInformation(
                "Domain re-check done: {Checked} checked, {Verified} still verified, {Failing} failing, {Lapsed} lapsed, {Superseded} superseded, {Lowered} claims lowered to signed",
                summary.Checked, summary.StillVerified, summary.Failing, summary.Lapsed, summary.Superseded, summary.ClaimsLowered);
        }

        return summary;
    }

    /// <summary>
    /// Checks a row this replica took at <paramref name="takenAt"/>. Whatever goes wrong with one row
    /// before its outcome is recorded counts as a failed check of that row (when even that cannot be
    /// recorded, the row is given back, due again at the next pass); what goes wrong after it, in
    /// the reconciliation that follows, is logged and left to the next pass. Neither ends the pass
    /// for the others.
    /// </summary>
    internal async Task<(RecheckState State, int Lowered)> CheckOrCountFailureAsync(DomainVerificationRow row, long takenAt, CancellationToken cancellationToken)
    {
        (RecheckState State, OwedTrust? Owed) recorded;
        try
        {
            recorded = await CheckAsync(row, takenAt, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Domain re-check of {Host} for party {Party} failed unexpectedly; counted as a failed check", row.Host, row.Party);
            try
            {
                recorded = await RecordFailureAsync(row, takenAt, VerificationCodes.FetchFailed, definitive: false, cancellationToken);
            }
            catch (Exception again) when (!cancellationToken.IsCancellationRequested)
            {
                await GiveBackAsync(row, takenAt, again, cancellationToken);
                return (RecheckState.Failing, 0);
            }
        }

        // The outcome is recorded (and the row's token moved on, so no later write for this take
        // can land): nothing below counts as a check of the host any more. A host that stays
        // verified (failing or not) changes nothing its party's claims depend on: only a lapse has
        // claims to reconcile.
        return recorded.State == RecheckState.Lapsed
            ? (RecheckState.Lapsed, await LowerAsync(row, recorded.Owed!, cancellationToken))
            : (recorded.State, 0);
    }

    private async Task<(RecheckState State, OwedTrust? Owed)> CheckAsync(DomainVerificationRow row, long takenAt, CancellationToken cancellationToken)
    {
        var outcome = await fetcher.FetchAsync(row.Host, cancellationToken);
        var failure = DomainVerifier.Judge(outcome, row.Party, row.Host);
        if (failure is not null)
        {
            var definitive = failure.Code == VerificationCodes.KeyNotListed || outcome.DocumentGone;
            return await RecordFailureAsync(row, takenAt, failure.Code!, definitive, cancellationToken);
        }

        return await store.RecordSuccessAsync(row, takenAt, Now(), cancellationToken)
            ? (RecheckState.Verified, null)
            : (RecheckState.Superseded, null);
    }

    private async Task<(RecheckState State, OwedTrust? Owed)> RecordFailureAsync(
        DomainVerificationRow row, long takenAt, string code, bool definitive, CancellationToken cancellationToken)
    {
        var failures = row.Failures + 1;
        var lapse = definitive || failures >= FailuresBeforeLapse;
        logger.LogInformation("Domain re-check of {Host} for party {Party}: {Outcome} ({Failures} in a row)", row.Host, row.Party, code, failures);
        var status = lapse ? DomainVerificationStore.Lapsed : DomainVerificationStore.Verified;
        var (written, owed) = await store.RecordFailureAsync(row, takenAt, Now(), status, failures, code, cancellationToken);
        if (!written)
        {
            // A verification succeeded while this check ran (its fresh proof stands, nothing is
            // lowered), or this check's own outcome is recorded already (a commit whose answer was lost).
            logger.LogInformation("Domain re-check of {Host} for party {Party} was superseded: the row was written since the check took it; left as it is", row.Host, row.Party);
            return (RecheckState.Superseded, null);
        }

        return lapse ? (RecheckState.Lapsed, owed) : (RecheckState.Failing, null);
    }

    /// <summary>
    /// The lapse is recorded, and with it the lowering the party is owed: lowers the claims and
    /// settles the debt. A failure here leaves the debt to the next pass (or start).
    /// </summary>
    private async Task<int> LowerAsync(DomainVerificationRow row, OwedTrust owed, CancellationToken cancellationToken)
    {
        try
        {
            var (_, lowered) = await verifier.ReconcileAsync(row.Party, cancellationToken);
            await verifier.SettleAsync(owed, cancellationToken);
            logger.LogInformation("Domain verification of {Host} for party {Party} lapsed; {Lowered} claims lowered to signed", row.Host, row.Party, lowered);
            return lowered;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Domain verification of {Host} for party {Party} lapsed, but lowering its claims failed; the lowering is owed and the next pass (or start) finishes it", row.Host, row.Party);
            return 0;
        }
    }

    /// <summary>
    /// No outcome of the check could be recorded: the row gets its old last_checked_at back, so the
    /// next pass checks it again (rather than a whole RecheckInterval later).
    /// </summary>
    private async Task GiveBackAsync(DomainVerificationRow row, long takenAt, Exception cause, CancellationToken cancellationToken)
    {
        try
        {
            var givenBack = await store.GiveBackAsync(row, takenAt, cancellationToken);
            logger.LogError(cause, givenBack
                    ? "Recording the failed re-check of {Host} for party {Party} failed; the next pass checks it again"
                    : "Recording the failed re-check of {Host} for party {Party} failed, and the row has changed since; left as it is",
                row.Host, row.Party);
        }
        catch (Exception again) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogError(new AggregateException(cause, again),
                "Recording the failed re-check of {Host} for party {Party} failed, and so did giving the row back; it is checked again once due, a RecheckInterval after this check",
                row.Host, row.Party);
        }
    }

    /// <summary>
    /// Finishes the reconciliations that changes of verified hosts left owed (the writer failed, or
    /// the process stopped, between a verification's, lapse's or removal's commit and the raise or
    /// lowering after it): reconciles each party and settles its debt. At most
    /// <see cref="MaxPerPass"/> parties; the rest wait for the next pass.
    /// </summary>
    public async Task<int> SettleOwedAsync(CancellationToken cancellationToken)
    {
        var owed = await store.OwedAsync(MaxPerPass, cancellationToken);
        var settled = 0;
        foreach (var debt in owed)
        {
            try
            {
                var (raised, lowered) = await verifier.ReconcileAsync(debt.Party, cancellationToken);
                await verifier.SettleAsync(debt, cancellationToken);
                logger.LogInformation(
                    "Party {Party}: the reconciliation owed since its verified hosts changed is done; {Raised} claims raised to domain, {Lowered} lowered to signed",
                    debt.Party, raised, lowered);
                settled++;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Reconciling party {Party}, owed since its verified hosts changed, failed; the next pass tries again", debt.Party);
            }
        }

        return settled;
    }

    private long Now() => time.GetUtcNow().ToUnixTimeSeconds();
}

/// <summary>Runs <see cref="DomainRechecks"/> on Registry:Verification:RecheckInterval; each replica takes only rows it wins.</summary>
internal sealed class DomainRecheckService(DomainRechecks rechecks, IOptions<VerificationOptions> options, TimeProvider time, ILogger<DomainRecheckService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.RecheckInterval;
        try
        {
            await rechecks.SettleOwedAsync(stoppingToken); // what a stop cut short, at once rather than at the first pass
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Finishing the owed reconciliations at start failed; the next re-check pass retries");
        }

        // Wake at least hourly, so a verification is re-checked within an hour of falling due.
        using var timer = new PeriodicTimer(interval < TimeSpan.FromHours(1) ? interval : TimeSpan.FromHours(1), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await rechecks.RecheckAsync(interval, stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "A domain re-check pass failed; the next one retries");
            }
        }
    }
}

using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Verification;

/// <summary>A verification's answer: the failure, or how many claims moved up and the seq after.</summary>
internal sealed record VerificationResult(string? Code, string Detail, int ClaimsRaised = 0, long Seq = 0)
{
    public bool Verified => Code is null;
}

/// <summary>
/// Verifies a (party, host) pair and keeps the party's claims' trust in line with its verified
/// hosts. Every trust change goes through the log writer (so every replica's index sees it), is
/// conditional on the level read (so a claim reviewed in between is never lowered), and is judged
/// again against the verified hosts inside the writer's transaction (so a replica that read the
/// hosts before another replica lapsed one cannot raise a claim on it).
/// </summary>
internal sealed class DomainVerifier(
    WellKnownFetcher fetcher,
    DomainVerificationStore store,
    ClaimWriter log,
    LogReader reader,
    IOptions<VerificationOptions> options,
    TimeProvider time,
    ILogger<DomainVerifier> logger)
{
    public const string RaiseReason = "domain verification";
    public const string LapseReason = "domain verification lapsed";
    public const string RemovalReason = "domain verification removed by an operator";
    private const int PageSize = 500;
    private const int LockStripes = 64;

    /// <summary>Retry-After of a verification refused because every fetch slot is taken: about one fetch's time.</summary>
    public const int BusyRetrySeconds = 5;

    // In this process, reconciles of one party run one at a time (parties that hash to the same
    // stripe wait for each other too). This only saves duplicate work: correctness across replicas
    // comes from the log writer's judgement of each move, not from this lock.
    private readonly SemaphoreSlim[] _stripes = Enumerable.Range(0, LockStripes).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    /// <summary>
    /// Fetches the host's document; on success records the verification and, when that adds the host
    /// to the party's verified hosts (or the party is still owed an earlier reconciliation), raises
    /// the party's claims on it. A repeat of a verified host's verification reads no claims.
    /// </summary>
    public async Task<VerificationResult> VerifyAsync(string party, string host, CancellationToken cancellationToken)
    {
        var maxHosts = options.Value.MaxHostsPerParty;
        var verified = await store.VerifiedHostsAsync(party, cancellationToken);
        if (!verified.Contains(host) && verified.Count >= maxHosts)
        {
            return TooManyHosts(party, maxHosts); // before fetching: no request to the host at all
        }

        if (await fetcher.TryFetchAsync(host, cancellationToken) is not { } outcome)
        {
            // Debug, not a warning: a flood of verify calls would flood the log too; registry_domain_verifications_total counts them.
            logger.LogDebug("Domain verification of {Host} for party {Party} refused: {Fetches} fetches under way (Registry:Verification:MaxConcurrentFetches)",
                host, party, options.Value.MaxConcurrentFetches);
            return new VerificationResult(VerificationCodes.Busy,
                $"The registry is fetching {options.Value.MaxConcurrentFetches} hosts' files already, the most it fetches at once; retry after {BusyRetrySeconds} s.");
        }

        var failure = Judge(outcome, party, host);
        logger.LogInformation("Domain verification of {Host} for party {Party}: {Outcome}", host, party, failure?.Code ?? "verified");
        if (failure is not null)
        {
            // A failed attempt changes nothing stored: anyone may call this endpoint, so only the
            // periodic re-check (DomainRechecks) may lapse a verification.
            return failure;
        }

        var stripe = Stripe(party);
        await stripe.WaitAsync(cancellationToken); // nothing stored yet: a caller who leaves while waiting changes nothing
        try
        {
            // Proven: finish the change even if the caller leaves now.
            var (written, owed) = await store.TryUpsertVerifiedAsync(party, host, time.GetUtcNow().ToUnixTimeSeconds(), maxHosts, CancellationToken.None);
            if (!written)
            {
                return TooManyHosts(party, maxHosts);
            }

            // A host verified already vouches for nothing new: claims submitted since were judged at
            // intake. Anything a failure left undone since the last change is owed, and done here
            // (or by the next re-check pass or start, should this fail too).
            var raised = 0;
            if (owed is not null)
            {
                (raised, _) = await ReconcileHeldAsync(party, CancellationToken.None);
                await SettleAsync(owed, CancellationToken.None);
            }

            return new VerificationResult(null, "verified", raised, await reader.LastSeqAsync(CancellationToken.None));
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>Null when the document lists the party's key; otherwise the failure to report.</summary>
    internal static VerificationResult? Judge(FetchOutcome outcome, string party, string host)
    {
        if (!outcome.Succeeded)
        {
            return new VerificationResult(outcome.Code, outcome.Detail);
        }

        return outcome.Keys!.Contains(party, StringComparer.Ordinal)
            ? null
            : new VerificationResult(VerificationCodes.KeyNotListed,
                $"The file {WellKnownFetcher.DocumentPath} on {host} does not list the key {party}; add it to \"keys\" and try again.");
    }

    /// <summary>
    /// Raises the party's signed claims that its verified hosts now vouch for, and lowers its
    /// domain claims they no longer vouch for. Returns how many moved each way.
    /// </summary>
    public async Task<(int Raised, int Lowered)> ReconcileAsync(string party, CancellationToken cancellationToken)
    {
        var stripe = Stripe(party);
        await stripe.WaitAsync(cancellationToken);
        try
        {
            return await ReconcileHeldAsync(party, cancellationToken);
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>
    /// An operator's removal of (party, host): the verification is forgotten and, as when it
    /// lapses, the party's claims that it alone vouched for go back to signed (reviewed ones stay).
    /// Null when the party had no verification of the host; otherwise how many claims were lowered.
    /// </summary>
    public async Task<int?> RemoveAsync(string party, string host, CancellationToken cancellationToken)
    {
        var stripe = Stripe(party);
        await stripe.WaitAsync(cancellationToken);
        try
        {
            // Started: finish the removal and the lowering even if the caller leaves now.
            if (await store.DeleteAsync(party, host, CancellationToken.None) is not { } owed)
            {
                return null;
            }

            var (_, lowered) = await ReconcileHeldAsync(party, CancellationToken.None, RemovalReason);
            await SettleAsync(owed, CancellationToken.None);
            logger.LogInformation("Domain verification of {Host} for party {Party} removed by an operator; {Lowered} claims lowered to signed", host, party, lowered);
            return lowered;
        }
        finally
        {
            stripe.Release();
        }
    }

    /// <summary>
    /// Forgets a debt whose lowering is done. A failure to forget it is logged, not thrown: the
    /// lowering stands, and the next pass reconciles the party again, which changes nothing.
    /// </summary>
    public async Task SettleAsync(OwedTrust owed, CancellationToken cancellationToken)
    {
        try
        {
            await store.SettleAsync(owed, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Party {Party}: its claims are reconciled, but forgetting that they were owed it failed; the next re-check pass reconciles them again", owed.Party);
        }
    }

    private static VerificationResult TooManyHosts(string party, int maxHosts) => new(VerificationCodes.TooManyHosts,
        $"The party {party} already has {maxHosts} verified hosts, the most one party may hold (Registry:Verification:MaxHostsPerParty); "
        + "hosts that stop listing the key lapse at their next re-check and free their place.");

    private SemaphoreSlim Stripe(string party) => _stripes[(uint)StringComparer.Ordinal.GetHashCode(party) % LockStripes];

    private async Task<(int Raised, int Lowered)> ReconcileHeldAsync(string party, CancellationToken cancellationToken, string lowerReason = LapseReason)
    {
        // A first cut only: the log writer judges each move again in its transaction (WhenVouchedFor).
        var hosts = await store.VerifiedHostsAsync(party, cancellationToken);
        logger.LogDebug("Party {Party}: reconciling its claims' trust with its {Hosts} verified hosts", party, hosts.Count);
        var raised = await MoveAsync(party, TrustLevel.Signed, TrustLevel.Domain, RaiseReason, qualify: true, hosts, cancellationToken);
        var lowered = await MoveAsync(party, TrustLevel.Domain, TrustLevel.Signed, lowerReason, qualify: false, hosts, cancellationToken);
        if (raised + lowered > 0)
        {
            logger.LogInformation("Party {Party}: {Raised} claims raised to domain, {Lowered} lowered to signed", party, raised, lowered);
        }

        return (raised, lowered);
    }

    private async Task<int> MoveAsync(
        string party, TrustLevel from, TrustLevel to, string reason, bool qualify, HashSet<string> hosts, CancellationToken cancellationToken)
    {
        var moved = 0;
        var after = 0L;
        while (true)
        {
            var page = await store.PartyClaimsAsync(party, from, after, PageSize, cancellationToken);
            var changes = page
                .Where(claim => DomainScope.Qualifies(StoredSubjects.Decode(claim.Subjects), hosts) == qualify)
                .Select(claim => log.SetTrustIfAsync(claim.Id, from, to, reason, cancellationToken, whenVouchedFor: qualify))
                .ToList();
            foreach (var result in await Task.WhenAll(changes))
            {
                moved += result.Status == AppendStatus.Created ? 1 : 0;
            }

            if (page.Count < PageSize)
            {
                return moved;
            }

            after = page[^1].Seq;
        }
    }
}

using ConsentRegistry.Api.Matching;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Matching;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// Records near-duplicate pairs (DESIGN.md 5.7) as the log grows: each new claim's own PDQ and
/// embedding subjects, and each set the worker derives, are searched in this instance's matching
/// index (only once the index reflects them), and every other party's live claim they match is
/// stored as a pair, marked as a conflict when the two disagree. Every API instance runs it; the
/// scan's mark in the store makes each stretch of the log recorded once. The search runs outside
/// any transaction; only writing the pairs and the mark takes the store's write lock.
/// Each derived set also proposes aligned verifications: other parties' fetched pictures whose
/// embeddings are alike to it below the pair threshold (<see cref="MatchingOptions.AlignedCandidateSimilarity"/>,
/// at most <see cref="MatchingOptions.AlignedCandidates"/>), queued for the worker with the pairs.
/// </summary>
internal sealed class NearDuplicateRecorder(
    NearDuplicateStore store,
    NearDuplicateSearch search,
    SharedMatchingIndex index,
    IOptions<MatchingOptions> options,
    TimeProvider time,
    ILogger<NearDuplicateRecorder> logger) : BackgroundService
{
    private readonly MatchingOptions _options = options.Value;

    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!index.IsReady || !await RecordPassAsync(stoppingToken))
                {
                    await Task.Delay(PollInterval, time, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Recording near-duplicate pairs failed; retrying");
                await Task.Delay(PollInterval, time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Scans one stretch of the log; false when there was nothing to scan.</summary>
    private async Task<bool> RecordPassAsync(CancellationToken cancellationToken)
    {
        var pass = await store.ReadPassAsync(index.AppliedSeq, cancellationToken);
        if (pass.UpTo == pass.After)
        {
            return false;
        }

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var pairs = new List<PairRow>();
        var checks = new List<CheckRow>();
        foreach (var entry in pass.Entries)
        {
            foreach (var found in search.Find(entry.ClaimId, entry.Subjects, evenIfRevoked: false))
            {
                var (a, b) = string.CompareOrdinal(entry.ClaimId, found.Claim) < 0 ? (entry.ClaimId, found.Claim) : (found.Claim, entry.ClaimId);
                pairs.Add(new PairRow(a, b, found.By.ToWire(), found.Distance, found.Similarity, found.Conflict ? 1 : 0, entry.Seq, now));
            }

            if (entry.Url is { } url && _options.AlignedCandidates > 0)
            {
                foreach (var candidate in search.Candidates(entry.ClaimId, entry.Subjects, _options.AlignedCandidateSimilarity, _options.AlignedCandidates))
                {
                    // One row per pair of URLs, whichever claim's set proposed it: the claims in text order.
                    var (a, b) = string.CompareOrdinal(entry.ClaimId, candidate.Claim) < 0
                        ? ((entry.ClaimId, url), (candidate.Claim, candidate.Url))
                        : ((candidate.Claim, candidate.Url), (entry.ClaimId, url));
                    checks.Add(new CheckRow
                    {
                        ClaimA = a.Item1,
                        UrlA = a.Item2,
                        ClaimB = b.Item1,
                        UrlB = b.Item2,
                        Similarity = candidate.Similarity,
                        Conflict = candidate.Conflict ? 1 : 0,
                        FoundSeq = entry.Seq,
                    });
                }
            }
        }

        if (await store.WritePassAsync(pass, pairs, checks, cancellationToken) && pairs.Count + checks.Count > 0)
        {
            logger.LogInformation("Recorded {Pairs} near-duplicate pairs ({Conflicts} conflicts) and proposed {Checks} aligned verifications up to seq {Seq}",
                pairs.Count, pairs.Count(p => p.Conflict == 1), checks.Count, pass.UpTo);
        }

        return true;
    }
}

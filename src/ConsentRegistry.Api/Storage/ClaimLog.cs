using System.Threading.Channels;
using ConsentRegistry.Core.Claims;
using Dapper;

namespace ConsentRegistry.Api.Storage;

public enum AppendStatus
{
    Created,
    AlreadyExists,
    ClaimNotFound,
    NotClaimOwner,
    AlreadyRevoked,
    Unchanged,
}

/// <summary>What happened to one log entry. <see cref="Seq"/> is the entry's number (or the existing one's).</summary>
/// <summary>
/// What happened to one log entry. <see cref="Seq"/> is the entry's number (or the existing one's);
/// <see cref="ClaimId"/> the id under which the claim is stored (an earlier JWS of the same signed
/// content keeps its id).
/// </summary>
public sealed record AppendResult(AppendStatus Status, long Seq = 0, TrustLevel Trust = TrustLevel.Signed, string? RevocationId = null, string? ClaimId = null);

/// <summary>
/// A trust change in the log: operator review or domain verification. With <see cref="OnlyFrom"/>
/// it applies only to an unrevoked claim still at that level (so verification never lowers a
/// review that landed in between). With <see cref="WhenVouchedFor"/> it applies only if the
/// party's verified hosts, read in the writer's transaction, vouch for the claim (true) or no
/// longer do (false): a replica acting on a stale read of the hosts changes nothing.
/// </summary>
public sealed record TrustChange(string ClaimId, TrustLevel Trust, string Reason, TrustLevel? OnlyFrom = null, bool? WhenVouchedFor = null);

/// <summary>
/// One committed transaction of the log: seqs <see cref="FirstSeq"/> to <see cref="LastSeq"/>,
/// each a <see cref="VerifiedClaim"/>, <see cref="VerifiedRevocation"/> or <see cref="TrustChange"/>.
/// </summary>
public sealed record CommittedBatch(long FirstSeq, long LastSeq, IReadOnlyList<(long Seq, object Entry)> Entries);

/// <summary>
/// The single writer of the registry's log (claims, revocations, trust changes). Requests queue
/// here and are written in batches: one transaction, one durable commit and one turn of the
/// sequence lock for many entries. Seqs are assigned inside that transaction, so they are
/// gap-free and unique however many requests (or instances) write at once, and a request is
/// answered only after its commit.
/// </summary>
public sealed partial class ClaimLog(RegistryDatabase database, TimeProvider time, ILogger<ClaimLog> logger, IClaimIntakeTrust? intakeTrust = null) : BackgroundService
{
    private readonly IClaimIntakeTrust? _intakeTrust = intakeTrust;

    private const int MaxBatchEntries = 256;
    private const int MaxBatchSubjects = 50_000;

    private readonly Channel<Pending> _queue = Channel.CreateBounded<Pending>(
        new BoundedChannelOptions(4096) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>Raised after each commit, before the callers are answered: this instance's index applies it at once.</summary>
    public event Action<CommittedBatch>? Committed;

    /// <summary>The last seq this instance has committed.</summary>
    public long LastCommittedSeq => Volatile.Read(ref _lastCommittedSeq);

    private long _lastCommittedSeq;

    public Task<AppendResult> AppendClaimAsync(VerifiedClaim claim, CancellationToken cancellationToken) =>
        EnqueueAsync(new Pending(claim, claim.Subjects.Count), cancellationToken);

    public Task<AppendResult> AppendRevocationAsync(VerifiedRevocation revocation, CancellationToken cancellationToken) =>
        EnqueueAsync(new Pending(revocation, 0), cancellationToken);

    public Task<AppendResult> SetTrustAsync(string claimId, TrustLevel trust, string reason, CancellationToken cancellationToken) =>
        EnqueueAsync(new Pending(new TrustChange(claimId, trust, reason), 0), cancellationToken);

    /// <summary>
    /// Moves an unrevoked claim from <paramref name="from"/> to <paramref name="trust"/>, and with
    /// <paramref name="whenVouchedFor"/> only if the verified hosts (do or do not) vouch for it; Unchanged otherwise.
    /// </summary>
    public Task<AppendResult> SetTrustIfAsync(
        string claimId, TrustLevel from, TrustLevel trust, string reason, CancellationToken cancellationToken, bool? whenVouchedFor = null) =>
        EnqueueAsync(new Pending(new TrustChange(claimId, trust, reason, from, whenVouchedFor), 0), cancellationToken);

    private async Task<AppendResult> EnqueueAsync(Pending pending, CancellationToken cancellationToken)
    {
        await _queue.Writer.WriteAsync(pending, cancellationToken);
        // Once queued the entry is written even if this caller goes away: the client may retry
        // with the same JWS and will get the same id and seq.
        return await pending.Completion.Task;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(MaxBatchEntries);
        // Drain everything queued before shutdown: each of those callers is waiting for an answer.
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            batch.Clear();
            var subjects = 0;
            while (batch.Count < MaxBatchEntries && subjects < MaxBatchSubjects && _queue.Reader.TryRead(out var pending))
            {
                batch.Add(pending);
                subjects += pending.SubjectCount;
            }

            await WriteAsync(batch);
        }
    }

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

    private async Task<AppendResult[]> AppendBatchAsync(List<Pending> batch, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var (transaction, last) = await database.BeginAppendAsync(connection, cancellationToken);
        await using var _ = transaction;

        var claims = await FindClaimsAsync(connection, transaction, batch, cancellationToken);
        var (revocationsById, revocationsByClaim) = await FindRevocationsAsync(connection, transaction, batch, cancellationToken);
        var vouched = await VouchedForAsync(connection, transaction, batch, claims, cancellationToken);

        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var firstSeq = last;
        var newClaims = new List<ClaimRow>();
        var newRevocations = new List<RevocationRow>();
        var trustChanges = new List<(long Seq, TrustChange Change)>();
        var results = new AppendResult[batch.Count];
        var committed = new List<(long Seq, object Entry)>();
        var created = new List<VerifiedClaim>();

        for (var i = 0; i < batch.Count; i++)
        {
            switch (batch[i].Entry)
            {
                case VerifiedClaim claim when claims.TryGetValue(claim.Id, out var existing) || claims.TryGetValue(claim.ContentHash, out existing):
                    results[i] = new AppendResult(AppendStatus.AlreadyExists, existing.Seq, ParseTrust(existing.Trust), ClaimId: existing.Id);
                    break;
                case VerifiedClaim claim:
                    var seq = ++last;
                    newClaims.Add(ToRow(claim, seq, now));
                    claims[claim.Id] = claims[claim.ContentHash] = new ExistingClaim
                    {
                        Id = claim.Id, ContentHash = claim.ContentHash, Seq = seq, Party = claim.Party, Trust = TrustLevel.Signed.ToWire(),
                    };
                    results[i] = new AppendResult(AppendStatus.Created, seq, ClaimId: claim.Id);
                    committed.Add((seq, claim));
                    created.Add(claim);
                    break;
                case VerifiedRevocation revocation:
                    results[i] = PlanRevocation(revocation, claims, revocationsById, revocationsByClaim, newRevocations, ref last, now);
                    if (results[i].Status == AppendStatus.Created)
                    {
                        committed.Add((results[i].Seq, revocation));
                    }

                    break;
                case TrustChange change when !claims.ContainsKey(change.ClaimId):
                    results[i] = new AppendResult(AppendStatus.ClaimNotFound);
                    break;
                case TrustChange { OnlyFrom: { } from } change
                    when claims[change.ClaimId].Trust != from.ToWire() || claims[change.ClaimId].RevokedSeq is not null:
                    results[i] = new AppendResult(AppendStatus.Unchanged, claims[change.ClaimId].Seq, ParseTrust(claims[change.ClaimId].Trust));
                    break;
                case TrustChange { WhenVouchedFor: { } wanted } change when vouched.Contains(change.ClaimId) != wanted:
                    results[i] = new AppendResult(AppendStatus.Unchanged, claims[change.ClaimId].Seq, ParseTrust(claims[change.ClaimId].Trust));
                    break;
                case TrustChange change when claims[change.ClaimId].Trust == change.Trust.ToWire():
                    results[i] = new AppendResult(AppendStatus.Unchanged, claims[change.ClaimId].Seq, change.Trust);
                    break;
                case TrustChange change:
                    trustChanges.Add((++last, change));
                    claims[change.ClaimId] = claims[change.ClaimId] with { Trust = change.Trust.ToWire() };
                    results[i] = new AppendResult(AppendStatus.Created, last, change.Trust);
                    committed.Add((last, change));
                    break;
            }
        }

        if (created.Count > 0)
        {
            last = await RaiseAtIntakeAsync(connection, transaction, created, claims, results, trustChanges, committed, last, cancellationToken);
        }

        if (last != firstSeq)
        {
            await WriteRowsAsync(connection, transaction, newClaims, newRevocations, trustChanges, now, cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(ClaimLogSql.AdvanceSequence, new { last }, transaction, cancellationToken: cancellationToken));
            await database.AfterAppendAsync(connection, transaction, last, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        if (last != firstSeq)
        {
            Volatile.Write(ref _lastCommittedSeq, last);
            try
            {
                Committed?.Invoke(new CommittedBatch(firstSeq + 1, last, committed));
            }
            catch (Exception e)
            {
                // The commit stands; a listener that failed catches up from the store.
                logger.LogWarning(e, "A listener of committed log entries failed");
            }
        }

        return results;
    }

    private static AppendResult PlanRevocation(
        VerifiedRevocation revocation,
        Dictionary<string, ExistingClaim> claims,
        Dictionary<string, ExistingRevocation> revocationsById,
        Dictionary<string, ExistingRevocation> revocationsByClaim,
        List<RevocationRow> newRevocations,
        ref long last,
        long now)
    {
        if (revocationsById.TryGetValue(revocation.Id, out var same))
        {
            return new AppendResult(AppendStatus.AlreadyExists, same.Seq, RevocationId: same.Id);
        }

        if (!claims.TryGetValue(revocation.Revokes, out var claim))
        {
            return new AppendResult(AppendStatus.ClaimNotFound);
        }

        if (claim.Party != revocation.Party)
        {
            return new AppendResult(AppendStatus.NotClaimOwner);
        }

        if (revocationsByClaim.TryGetValue(revocation.Revokes, out var earlier))
        {
            return new AppendResult(AppendStatus.AlreadyRevoked, earlier.Seq, RevocationId: earlier.Id);
        }

        var seq = ++last;
        newRevocations.Add(new RevocationRow
        {
            Seq = seq, Id = revocation.Id, ClaimId = revocation.Revokes, Party = revocation.Party,
            Iat = revocation.Iat, Jws = revocation.Jws, ReceivedAt = now,
        });
        var row = new ExistingRevocation { Id = revocation.Id, Seq = seq, ClaimId = revocation.Revokes };
        revocationsById[row.Id] = row;
        revocationsByClaim[row.ClaimId] = row;
        claims[claim.Id] = claim with { RevokedSeq = seq };
        return new AppendResult(AppendStatus.Created, seq, RevocationId: revocation.Id);
    }

    private async Task WriteRowsAsync(
        System.Data.Common.DbConnection connection,
        System.Data.Common.DbTransaction transaction,
        List<ClaimRow> claims,
        List<RevocationRow> revocations,
        List<(long Seq, TrustChange Change)> trustChanges,
        long now,
        CancellationToken cancellationToken)
    {
        if (claims.Count > 0)
        {
            await database.InsertClaimsAsync(connection, transaction, claims, cancellationToken);
        }

        foreach (var revocation in revocations)
        {
            await connection.ExecuteAsync(new CommandDefinition(ClaimLogSql.InsertRevocation, revocation, transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(ClaimLogSql.MarkRevoked, new { seq = revocation.Seq, id = revocation.ClaimId }, transaction, cancellationToken: cancellationToken));
        }

        foreach (var (seq, change) in trustChanges)
        {
            var args = new { seq, claimId = change.ClaimId, trust = change.Trust.ToWire(), reason = change.Reason, changedAt = now };
            await connection.ExecuteAsync(new CommandDefinition(ClaimLogSql.InsertTrustChange, args, transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(ClaimLogSql.SetTrust, args, transaction, cancellationToken: cancellationToken));
        }
    }

    private async Task<Dictionary<string, ExistingClaim>> FindClaimsAsync(
        System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, List<Pending> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Select(p => p.Entry switch
        {
            VerifiedClaim c => c.Id,
            VerifiedRevocation r => r.Revokes,
            TrustChange t => t.ClaimId,
            _ => throw new InvalidOperationException(),
        }).Distinct().ToList();
        var hashes = batch.Select(p => p.Entry).OfType<VerifiedClaim>().Select(c => c.ContentHash).ToList();
        var rows = await connection.QueryAsync<ExistingClaim>(new CommandDefinition(ClaimLogSql.FindClaims(database), new { ids, hashes }, transaction, cancellationToken: cancellationToken));

        // Keyed by id and by content hash (they cannot collide: both are 64 hex digits of SHA-256
        // over different inputs, and a match across them would be a SHA-256 collision).
        var claims = new Dictionary<string, ExistingClaim>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            claims[row.Id] = row;
            if (row.ContentHash is not null)
            {
                claims[row.ContentHash] = row;
            }
        }

        return claims;
    }

    private async Task<(Dictionary<string, ExistingRevocation> ById, Dictionary<string, ExistingRevocation> ByClaim)> FindRevocationsAsync(
        System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, List<Pending> batch, CancellationToken cancellationToken)
    {
        var revocations = batch.Select(p => p.Entry).OfType<VerifiedRevocation>().ToList();
        var byId = new Dictionary<string, ExistingRevocation>(StringComparer.Ordinal);
        var byClaim = new Dictionary<string, ExistingRevocation>(StringComparer.Ordinal);
        if (revocations.Count == 0)
        {
            return (byId, byClaim);
        }

        var args = new { ids = revocations.Select(r => r.Id).ToList(), claimIds = revocations.Select(r => r.Revokes).ToList() };
        foreach (var row in await connection.QueryAsync<ExistingRevocation>(new CommandDefinition(ClaimLogSql.FindRevocations(database), args, transaction, cancellationToken: cancellationToken)))
        {
            byId[row.Id] = row;
            byClaim[row.ClaimId] = row;
        }

        return (byId, byClaim);
    }

    private static ClaimRow ToRow(VerifiedClaim claim, long seq, long now) => new()
    {
        Seq = seq,
        Id = claim.Id,
        ContentHash = claim.ContentHash,
        Party = claim.Party,
        Alg = claim.Algorithm,
        Iat = claim.Iat,
        Tdm = UseCategories.ToWire(claim.Usage.Tdm),
        TrainAi = UseCategories.ToWire(claim.Usage.TrainAi),
        TrainGenai = UseCategories.ToWire(claim.Usage.TrainGenAi),
        AiUse = UseCategories.ToWire(claim.Usage.AiUse),
        Search = UseCategories.ToWire(claim.Usage.Search),
        Title = claim.Title,
        License = claim.License,
        Contact = claim.Contact,
        Trust = TrustLevel.Signed.ToWire(),
        SubjectCount = claim.Subjects.Count,
        Subjects = StoredSubjects.Encode(claim.Subjects),
        Jws = claim.Jws,
        ReceivedAt = now,
    };

    internal static TrustLevel ParseTrust(string value) =>
        TrustLevels.TryParse(value, out var trust) ? trust : throw new InvalidDataException($"Unknown trust level '{value}' in the store.");

    private sealed record Pending(object Entry, int SubjectCount)
    {
        public TaskCompletionSource<AppendResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

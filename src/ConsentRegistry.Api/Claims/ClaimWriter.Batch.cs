using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Api.Claims;

/// <summary>One batch: read what is stored, decide each entry in order, write the rows, commit.</summary>
public sealed partial class ClaimWriter
{
    private async Task<AppendResult[]> AppendBatchAsync(List<Pending> batch, CancellationToken cancellationToken)
    {
        await using var append = await store.BeginAsync(cancellationToken);
        var plan = new BatchPlan(append.LastSeq, time.GetUtcNow().ToUnixTimeSeconds(), batch.Count);
        await plan.ReadAsync(append, batch, cancellationToken);
        var vouched = await VouchedForAsync(append, batch, plan.Claims, cancellationToken);

        for (var i = 0; i < batch.Count; i++)
        {
            plan.Results[i] = plan.Decide(batch[i].Entry, vouched);
        }

        if (plan.Created.Count > 0)
        {
            await RaiseAtIntakeAsync(append, plan, cancellationToken);
        }

        await plan.WriteAsync(append, cancellationToken);
        await append.CommitAsync(plan.Last, cancellationToken);
        if (plan.Last != append.LastSeq)
        {
            Publish(new CommittedBatch(append.LastSeq + 1, plan.Last, plan.Committed));
        }

        return plan.Results;
    }

    /// <summary>The decisions of one batch, made against what the store held when it began plus the batch's own earlier entries.</summary>
    private sealed class BatchPlan(long last, long now, int size)
    {
        private readonly Dictionary<string, ExistingRevocation> _revocationsById = new(StringComparer.Ordinal);
        private readonly Dictionary<string, ExistingRevocation> _revocationsByClaim = new(StringComparer.Ordinal);
        private readonly List<ClaimRow> _newClaims = [];
        private readonly List<RevocationRow> _newRevocations = [];
        private readonly List<(long Seq, LogEntry.TrustChange Change)> _trustChanges = [];

        /// <summary>The ids of stored and new claims by content hash: a claim re-signed (a new signature over the same content) is the same claim.</summary>
        private readonly Dictionary<string, string> _idsByContentHash = new(StringComparer.Ordinal);

        /// <summary>Stored and new claims by id, as they stand after the batch's entries decided so far.</summary>
        public Dictionary<string, ExistingClaim> Claims { get; } = new(StringComparer.Ordinal);

        public long Last { get; private set; } = last;

        public AppendResult[] Results { get; } = new AppendResult[size];

        public List<CommittedEntry> Committed { get; } = [];

        public List<VerifiedClaim> Created { get; } = [];

        public async Task ReadAsync(ClaimLogStore.AppendTransaction append, List<Pending> batch, CancellationToken cancellationToken)
        {
            var ids = batch.Select(p => p.Entry.ClaimKey).Distinct().ToList();
            var hashes = batch.Select(p => p.Entry).OfType<LogEntry.Claim>().Select(c => c.Verified.ContentHash).ToList();
            foreach (var row in await append.FindClaimsAsync(ids, hashes, cancellationToken))
            {
                Claims[row.Id] = row;
                if (row.ContentHash is not null)
                {
                    _idsByContentHash[row.ContentHash] = row.Id;
                }
            }

            var revocations = batch.Select(p => p.Entry).OfType<LogEntry.Revocation>().Select(r => r.Verified).ToList();
            if (revocations.Count > 0)
            {
                foreach (var row in await append.FindRevocationsAsync(revocations.Select(r => r.Id).ToList(), revocations.Select(r => r.Revokes).ToList(), cancellationToken))
                {
                    _revocationsById[row.Id] = row;
                    _revocationsByClaim[row.ClaimId] = row;
                }
            }
        }

        public AppendResult Decide(LogEntry entry, IReadOnlySet<string> vouched) => entry switch
        {
            LogEntry.Claim claim => DecideClaim(claim),
            LogEntry.Revocation revocation => DecideRevocation(revocation),
            LogEntry.TrustChange change => DecideTrustChange(change, vouched),
            _ => throw new System.Diagnostics.UnreachableException(),
        };

        private AppendResult DecideClaim(LogEntry.Claim entry)
        {
            var claim = entry.Verified;
            if (Claims.TryGetValue(claim.Id, out var existing)
                || (_idsByContentHash.TryGetValue(claim.ContentHash, out var sameContent) && Claims.TryGetValue(sameContent, out existing)))
            {
                return new AppendResult(AppendStatus.AlreadyExists, existing.Seq, existing.Trust, ClaimId: existing.Id);
            }

            var seq = ++Last;
            _newClaims.Add(ClaimsTable.ToRow(claim, seq, now));
            _idsByContentHash[claim.ContentHash] = claim.Id;
            Claims[claim.Id] = new ExistingClaim
            {
                Id = claim.Id, ContentHash = claim.ContentHash, Seq = seq, Party = claim.Party, Trust = TrustLevel.Signed,
            };
            Committed.Add(new CommittedEntry(seq, entry));
            Created.Add(claim);
            return new AppendResult(AppendStatus.Created, seq, TrustLevel.Signed, ClaimId: claim.Id);
        }

        private AppendResult DecideRevocation(LogEntry.Revocation entry)
        {
            var revocation = entry.Verified;
            if (_revocationsById.TryGetValue(revocation.Id, out var same))
            {
                return new AppendResult(AppendStatus.AlreadyExists, same.Seq, RevocationId: same.Id);
            }

            if (!Claims.TryGetValue(revocation.Revokes, out var claim))
            {
                return new AppendResult(AppendStatus.ClaimNotFound);
            }

            if (claim.Party != revocation.Party)
            {
                return new AppendResult(AppendStatus.NotClaimOwner);
            }

            if (_revocationsByClaim.TryGetValue(revocation.Revokes, out var earlier))
            {
                // The same signed content with a re-encoded signature is the same revocation, as for claims.
                var status = VerifiedJws.ContentHashOf(earlier.Jws) == revocation.ContentHash ? AppendStatus.AlreadyExists : AppendStatus.AlreadyRevoked;
                return new AppendResult(status, earlier.Seq, RevocationId: earlier.Id);
            }

            var seq = ++Last;
            _newRevocations.Add(new RevocationRow
            {
                Seq = seq, Id = revocation.Id, ClaimId = revocation.Revokes, Party = revocation.Party,
                Iat = revocation.Iat, Jws = revocation.Jws, ReceivedAt = now,
            });
            var row = new ExistingRevocation { Id = revocation.Id, Seq = seq, ClaimId = revocation.Revokes, Jws = revocation.Jws };
            _revocationsById[row.Id] = row;
            _revocationsByClaim[row.ClaimId] = row;
            Claims[claim.Id] = claim with { RevokedSeq = seq };
            Committed.Add(new CommittedEntry(seq, entry));
            return new AppendResult(AppendStatus.Created, seq, RevocationId: revocation.Id);
        }

        private AppendResult DecideTrustChange(LogEntry.TrustChange change, IReadOnlySet<string> vouched)
        {
            if (!Claims.TryGetValue(change.ClaimId, out var claim))
            {
                return new AppendResult(AppendStatus.ClaimNotFound);
            }

            var stale = change.OnlyFrom is { } from && (claim.Trust != from || claim.RevokedSeq is not null);
            var notVouched = change.WhenVouchedFor is { } wanted && vouched.Contains(change.ClaimId) != wanted;
            if (stale || notVouched || claim.Trust == change.Trust)
            {
                return new AppendResult(AppendStatus.Unchanged, claim.Seq, claim.Trust);
            }

            return new AppendResult(AppendStatus.Created, AddTrustChange(change), change.Trust);
        }

        /// <summary>Logs a trust change already judged to apply; returns its seq.</summary>
        public long AddTrustChange(LogEntry.TrustChange change)
        {
            var seq = ++Last;
            _trustChanges.Add((seq, change));
            Claims[change.ClaimId] = Claims[change.ClaimId] with { Trust = change.Trust };
            Committed.Add(new CommittedEntry(seq, change));
            return seq;
        }

        public async Task WriteAsync(ClaimLogStore.AppendTransaction append, CancellationToken cancellationToken)
        {
            await append.InsertClaimsAsync(_newClaims, cancellationToken);
            foreach (var revocation in _newRevocations)
            {
                await append.InsertRevocationAsync(revocation, cancellationToken);
            }

            foreach (var (seq, change) in _trustChanges)
            {
                await append.InsertTrustChangeAsync(seq, change.ClaimId, change.Trust, change.Reason, now, cancellationToken);
            }
        }
    }
}

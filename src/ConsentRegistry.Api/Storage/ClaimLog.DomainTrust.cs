using System.Data.Common;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Api.Storage;

/// <summary>The log writer's domain-trust steps, judged inside its transaction (docs/decisions/0006).</summary>
public sealed partial class ClaimLog
{
    /// <summary>Logs a raise right after each new claim that its party's verified hosts vouch for; returns the new last seq.</summary>
    private async Task<long> RaiseAtIntakeAsync(
        DbConnection connection,
        DbTransaction transaction,
        List<VerifiedClaim> created,
        Dictionary<string, ExistingClaim> claims,
        AppendResult[] results,
        List<(long Seq, TrustChange Change)> trustChanges,
        List<(long Seq, object Entry)> committed,
        long last,
        CancellationToken cancellationToken)
    {
        if (_intakeTrust is null)
        {
            return last;
        }

        foreach (var change in await _intakeTrust.RaiseAsync(connection, transaction, created, cancellationToken))
        {
            var current = claims[change.ClaimId];
            if (current.RevokedSeq is not null || current.Trust != (change.OnlyFrom ?? TrustLevel.Signed).ToWire())
            {
                continue; // revoked or reviewed in this same batch
            }

            trustChanges.Add((++last, change));
            claims[change.ClaimId] = current with { Trust = change.Trust.ToWire() };
            committed.Add((last, change));
            for (var i = 0; i < results.Length; i++)
            {
                if (results[i].ClaimId == change.ClaimId)
                {
                    results[i] = results[i] with { Trust = change.Trust };
                }
            }
        }

        return last;
    }

    /// <summary>Of the batch's trust changes that depend on verified hosts, the claims those hosts vouch for now.</summary>
    private async Task<IReadOnlySet<string>> VouchedForAsync(
        DbConnection connection, DbTransaction transaction, List<Pending> batch, Dictionary<string, ExistingClaim> claims, CancellationToken cancellationToken)
    {
        var ids = batch
            .Select(p => p.Entry)
            .OfType<TrustChange>()
            .Where(change => change.WhenVouchedFor is not null && claims.ContainsKey(change.ClaimId))
            .Select(change => change.ClaimId)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        return ids.Count == 0 || _intakeTrust is null
            ? new HashSet<string>()
            : await _intakeTrust.VouchedForAsync(connection, transaction, ids, cancellationToken);
    }
}

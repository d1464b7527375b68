using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Api.Claims;

/// <summary>The writer's trust steps judged by <see cref="IClaimIntakeTrust"/> inside its transaction (docs/decisions/0006).</summary>
public sealed partial class ClaimWriter
{
    /// <summary>Logs a raise right after each new claim that its party's verified hosts vouch for.</summary>
    private async Task RaiseAtIntakeAsync(ClaimLogStore.AppendTransaction append, BatchPlan plan, CancellationToken cancellationToken)
    {
        if (intakeTrust is null)
        {
            return;
        }

        foreach (var change in await intakeTrust.RaiseAsync(append.Connection, append.Transaction, plan.Created, cancellationToken))
        {
            var current = plan.Claims[change.ClaimId];
            if (current.RevokedSeq is not null || current.Trust != (change.OnlyFrom ?? TrustLevel.Signed))
            {
                continue; // revoked or reviewed in this same batch
            }

            plan.AddTrustChange(change);
            for (var i = 0; i < plan.Results.Length; i++)
            {
                if (plan.Results[i].ClaimId == change.ClaimId)
                {
                    plan.Results[i] = plan.Results[i] with { Trust = change.Trust };
                }
            }
        }
    }

    /// <summary>Of the batch's trust changes that depend on verified hosts, the claims those hosts vouch for now.</summary>
    private async Task<IReadOnlySet<string>> VouchedForAsync(
        ClaimLogStore.AppendTransaction append, List<Pending> batch, Dictionary<string, ExistingClaim> claims, CancellationToken cancellationToken)
    {
        var ids = batch
            .Select(p => p.Entry)
            .OfType<LogEntry.TrustChange>()
            .Where(change => change.WhenVouchedFor is not null && claims.ContainsKey(change.ClaimId))
            .Select(change => change.ClaimId)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        return ids.Count == 0 || intakeTrust is null
            ? new HashSet<string>()
            : await intakeTrust.VouchedForAsync(append.Connection, append.Transaction, ids, cancellationToken);
    }
}

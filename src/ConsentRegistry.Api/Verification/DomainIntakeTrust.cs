using System.Data.Common;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Api.Verification;

/// <summary>
/// The log writer's view of domain verification (docs/decisions/0006): claims a party submits for
/// hosts it has verified start at domain, and every raise or lowering the verifier asks for is
/// judged again against the verified hosts read in the writer's transaction.
/// </summary>
internal sealed class DomainIntakeTrust(DomainVerificationStore store) : IClaimIntakeTrust
{
    public async Task<IReadOnlyList<LogEntry.TrustChange>> RaiseAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<VerifiedClaim> claims, CancellationToken cancellationToken)
    {
        var parties = claims.Select(c => c.Party).Distinct(StringComparer.Ordinal).ToList();
        var verified = await store.VerifiedHostsAsync(connection, transaction, parties, cancellationToken);
        if (verified.Count == 0)
        {
            return [];
        }

        return claims
            .Where(c => verified.TryGetValue(c.Party, out var hosts) && DomainScope.Qualifies(c.Subjects, hosts))
            .Select(c => new LogEntry.TrustChange(c.Id, TrustLevel.Domain, DomainVerifier.RaiseReason, TrustLevel.Signed))
            .ToList();
    }

    public async Task<IReadOnlySet<string>> VouchedForAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyCollection<string> claimIds, CancellationToken cancellationToken)
    {
        var claims = await store.ClaimSubjectsAsync(connection, transaction, claimIds, cancellationToken);
        var parties = claims.Select(c => c.Party).Distinct(StringComparer.Ordinal).ToList();
        var verified = await store.VerifiedHostsAsync(connection, transaction, parties, cancellationToken);
        return claims
            .Where(c => verified.TryGetValue(c.Party, out var hosts) && DomainScope.Qualifies(StoredSubjects.Decode(c.Subjects), hosts))
            .Select(c => c.Id)
            .ToHashSet(StringComparer.Ordinal);
    }
}

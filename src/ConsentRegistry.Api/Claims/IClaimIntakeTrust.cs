using System.Data.Common;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// Judges trust above <c>signed</c> inside the claim writer's transaction, under the sequence
/// lock that every change of a verification's status also takes (docs/decisions/0006), so no
/// replica can act on a verified host that another replica has lapsed in the meantime. Domain
/// verification implements it; the writer knows nothing else of verification.
/// </summary>
public interface IClaimIntakeTrust
{
    /// <summary>
    /// Which newly accepted claims start above <c>signed</c> (a party's claims on hosts it has
    /// verified). Each raise is logged as an ordinary trust change in that same transaction, so
    /// no reader ever sees the claim without it.
    /// </summary>
    Task<IReadOnlyList<LogEntry.TrustChange>> RaiseAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<VerifiedClaim> claims, CancellationToken cancellationToken);

    /// <summary>Of the given stored claims, the ids their parties' verified hosts vouch for now (see <see cref="LogEntry.TrustChange.WhenVouchedFor"/>).</summary>
    Task<IReadOnlySet<string>> VouchedForAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyCollection<string> claimIds, CancellationToken cancellationToken);
}

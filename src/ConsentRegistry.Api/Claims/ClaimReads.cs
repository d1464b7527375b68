using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentRegistry.Api.Claims;

/// <summary>The start of every <c>/v1/claims/{id}…</c> read: the stored claim, or the problem to answer.</summary>
internal static class ClaimReads
{
    /// <summary>The claim stored under <paramref name="id"/>; else 400 <c>invalid-claim-id</c> for a malformed id, 404 <c>claim-not-found</c> for an unknown one.</summary>
    public static async Task<(StoredClaim? Claim, ProblemHttpResult? Problem)> LoadAsync(this ClaimStore store, string id, CancellationToken cancellationToken)
    {
        if (!ClaimId.IsWellFormed(id))
        {
            return (null, Problems.InvalidClaimId());
        }

        return await store.GetAsync(id, cancellationToken) is { } stored ? (stored, null) : (null, Problems.ClaimNotFound(id));
    }
}

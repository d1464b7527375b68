using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Verification;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentRegistry.Api.Admin;

/// <summary>An operator's removal of a party's verified host (docs/domain-verification.md).</summary>
internal static class DomainAdmin
{
    internal static async Task<Results<NoContent, ProblemHttpResult, ValidationProblem>> RemoveDomain(
        string party, string host, DomainVerifier verifier, CancellationToken cancellationToken)
    {
        if (DomainVerificationEndpoints.InvalidPath(party, host, out var canonical) is { } invalid)
        {
            return invalid;
        }

        return await verifier.RemoveAsync(party, canonical!, cancellationToken) is null
            ? Problems.Create(StatusCodes.Status404NotFound, ProblemCodes.DomainVerificationNotFound,
                $"The party {party} has no verification of the host {canonical}, verified or lapsed.")
            : TypedResults.NoContent();
    }
}

using ConsentRegistry.Core.Claims;
using Dapper;

namespace ConsentRegistry.Api.Storage;

/// <summary>Reads claims back from the store.</summary>
public sealed class ClaimStore(RegistryDatabase database)
{
    private const string SelectClaim = $"SELECT {ClaimsTable.Select} FROM claims WHERE id = @id";

    private const string SelectSubjects = "SELECT subjects FROM claims WHERE id = @id";

    private const string SelectRevocation = "SELECT seq, id, claim_id, party, iat, jws, received_at FROM revocations WHERE claim_id = @id";

    // Subjects and JWS are left out of lists: a 10,000-subject claim's are megabytes.
    private const string SelectPartyClaims = $"""
        SELECT {ClaimsTable.SelectSummary}
        FROM claims
        WHERE party = @party AND seq > @after
        ORDER BY seq
        LIMIT @limit
        """;

    internal async Task<StoredClaim?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var claim = await connection.QuerySingleOrDefaultAsync<ClaimRow>(new CommandDefinition(SelectClaim, new { id }, cancellationToken: cancellationToken));
        if (claim is null)
        {
            return null;
        }

        var revocation = claim.RevokedSeq is null
            ? null
            : await connection.QuerySingleOrDefaultAsync<RevocationRow>(new CommandDefinition(SelectRevocation, new { id }, cancellationToken: cancellationToken));
        return new StoredClaim(claim, StoredSubjects.Decode(claim.Subjects), revocation);
    }

    /// <summary>The claim's url subjects in its order, read from the subjects column alone (not its JWS, up to megabytes); null for a claim not in the store.</summary>
    internal async Task<IReadOnlyList<string>?> UrlSubjectsAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var packed = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(SelectSubjects, new { id }, cancellationToken: cancellationToken));
        if (packed is null)
        {
            return null;
        }

        return StoredSubjects.Decode(packed, static kind => kind == SubjectKinds.Url).ConvertAll(subject => subject.Value);
    }

    internal async Task<IReadOnlyList<ClaimRow>> ListByPartyAsync(string party, long after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<ClaimRow>(new CommandDefinition(SelectPartyClaims, new { party, after, limit }, cancellationToken: cancellationToken));
        return rows.AsList();
    }
}

internal sealed record StoredClaim(ClaimRow Claim, IReadOnlyList<Subject> Subjects, RevocationRow? Revocation);

using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Api.Storage;

// Rows as the store holds them. Integers are long and flags are 0/1 so that SQLite and
// PostgreSQL map to the same records.

internal sealed record ClaimRow
{
    public long Seq { get; init; }
    public required string Id { get; init; }
    public string ContentHash { get; init; } = "";
    public required string Party { get; init; }
    public required string Alg { get; init; }
    public long Iat { get; init; }
    public string? Tdm { get; init; }
    public string? TrainAi { get; init; }
    public string? TrainGenai { get; init; }
    public string? AiUse { get; init; }
    public string? Search { get; init; }
    public string? Title { get; init; }
    public string? License { get; init; }
    public string? Contact { get; init; }
    public required string Trust { get; init; }
    public long SubjectCount { get; init; }
    public required string Subjects { get; init; }
    public required string Jws { get; init; }
    public long ReceivedAt { get; init; }
    public long? RevokedSeq { get; init; }

    public Usage Usage => new(Parse(Tdm), Parse(TrainAi), Parse(TrainGenai), Parse(AiUse), Parse(Search));

    private static Preference Parse(string? value) => UseCategories.TryParsePreference(value, out var p) ? p : Preference.Unset;
}

internal sealed record RevocationRow
{
    public long Seq { get; init; }
    public required string Id { get; init; }
    public required string ClaimId { get; init; }
    public required string Party { get; init; }
    public long Iat { get; init; }
    public required string Jws { get; init; }
    public long ReceivedAt { get; init; }
}

internal sealed record ApiKeyRow
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Role { get; init; }
    public long CreatedAt { get; init; }
    public long? LastUsedAt { get; init; }
    public long? RevokedAt { get; init; }
}

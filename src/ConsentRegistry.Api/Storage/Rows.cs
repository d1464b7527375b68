namespace ConsentRegistry.Api.Storage;

internal sealed record ApiKeyRow
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Role { get; init; }
    public long CreatedAt { get; init; }
    public long? LastUsedAt { get; init; }
    public long? RevokedAt { get; init; }
    public long? WriteClaimsPerHour { get; init; }
    public long? WriteSubjectsPerHour { get; init; }
}

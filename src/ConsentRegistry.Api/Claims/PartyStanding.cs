using ConsentRegistry.Api.Storage;
using Dapper;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Claims;

/// <summary>Which party budget a writer draws from (<see cref="WriteBudgetOptions"/>).</summary>
public enum PartyTier
{
    New,
    Established,
    Verified,

    /// <summary>Writes with an API key: the key's budget stands for the party's.</summary>
    ApiKey,
}

/// <summary>
/// A party's standing, from the store: domain-verified when it holds a verified host, established
/// when its first accepted claim is old enough, else new. Read at most once a minute per party and
/// instance once it has a claim (two indexed reads), so a flood of writes does not become a flood
/// of reads; a party with no claim yet is read on each write, as its first write changes that.
/// </summary>
public sealed class PartyStanding(RegistryDatabase database, IMemoryCache cache, IOptions<WriteBudgetOptions> options, TimeProvider time)
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(1);

    private const string Select = """
        SELECT
          (SELECT received_at FROM claims WHERE party = @party ORDER BY seq LIMIT 1) AS first_claim_at,
          (SELECT COUNT(*) FROM domain_verifications WHERE party = @party AND status = 'verified') AS verified_hosts
        """;

    public async Task<PartyTier> TierAsync(string party, CancellationToken cancellationToken)
    {
        var key = "party-standing:" + party;
        if (!cache.TryGetValue(key, out StandingRow? standing) || standing is null)
        {
            await using var connection = await database.OpenConnectionAsync(cancellationToken);
            standing = await connection.QuerySingleAsync<StandingRow>(new CommandDefinition(Select, new { party }, cancellationToken: cancellationToken));
            // A party without claims is about to have one: not cached, so its next write sees it.
            if (standing.FirstClaimAt is not null || standing.VerifiedHosts > 0)
            {
                cache.Set(key, standing, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = CacheFor, Size = 1 });
            }
        }

        if (standing.VerifiedHosts > 0)
        {
            return PartyTier.Verified;
        }

        var established = time.GetUtcNow().ToUnixTimeSeconds() - (long)options.Value.EstablishedAfter.TotalSeconds;
        return standing.FirstClaimAt is { } first && first <= established ? PartyTier.Established : PartyTier.New;
    }

    private sealed record StandingRow
    {
        public long? FirstClaimAt { get; init; }
        public long VerifiedHosts { get; init; }
    }
}

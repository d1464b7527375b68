using System.Security.Cryptography;
using System.Text;
using ConsentRegistry.Api.Storage;
using Dapper;
using Microsoft.Extensions.Caching.Memory;

namespace ConsentRegistry.Api.Auth;

public static class ApiKeyRoles
{
    public const string Client = "client";
    public const string Admin = "admin";
}

/// <summary>An API key's public facts; the key itself is shown once, at creation.</summary>
public sealed record ApiKeyInfo(string Id, string Name, string Role);

/// <summary>
/// API keys: <c>crk_&lt;id&gt;_&lt;secret&gt;</c>, 256 random bits of secret. Only the SHA-256 of the
/// whole key is stored (a fast hash is right for a high-entropy secret: there is nothing to
/// brute-force). Look-ups are cached briefly because every bulk request presents a key.
/// </summary>
public sealed class ApiKeyStore(RegistryDatabase database, IMemoryCache cache, TimeProvider time)
{
    private const string Insert = """
        INSERT INTO api_keys (id, key_hash, name, role, created_at)
        VALUES (@id, @keyHash, @name, @role, @createdAt)
        """;

    private const string SelectByHash = """
        SELECT id, name, role, created_at FROM api_keys WHERE key_hash = @keyHash AND revoked_at IS NULL
        """;

    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);

    public async Task<(ApiKeyInfo Info, string Key)> CreateAsync(string name, string role, CancellationToken cancellationToken)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var key = $"crk_{id}_{Core.Claims.Base64Url.Encode(RandomNumberGenerator.GetBytes(32))}";
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(Insert,
            new { id, keyHash = Hash(key), name, role, createdAt = time.GetUtcNow().ToUnixTimeSeconds() },
            cancellationToken: cancellationToken));
        return (new ApiKeyInfo(id, name, role), key);
    }

    /// <summary>The key's facts, or null when it is unknown or revoked.</summary>
    public async Task<ApiKeyInfo?> FindAsync(string key, CancellationToken cancellationToken)
    {
        var keyHash = Hash(key);
        if (cache.TryGetValue(keyHash, out ApiKeyInfo? cached))
        {
            return cached;
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<ApiKeyRow>(new CommandDefinition(SelectByHash, new { keyHash }, cancellationToken: cancellationToken));
        var info = row is null ? null : new ApiKeyInfo(row.Id, row.Name, row.Role);
        cache.Set(keyHash, info, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = CacheFor, Size = 1 });
        return info;
    }

    public static string Hash(string key)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        return Convert.ToHexStringLower(hash);
    }
}

using System.Collections.Concurrent;
using System.Data.Common;
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
public sealed record ApiKeyInfo(string Id, string Name, string Role, WriteBudget? WriteBudget = null);

/// <summary>Claims and subjects a writer may submit per hour (Registry:WriteBudgets, or an admin's setting for one key).</summary>
public sealed record WriteBudget(long ClaimsPerHour, long SubjectsPerHour);

/// <summary>How a revocation went: <see cref="NotFound"/> when no stored key has the id.</summary>
public enum ApiKeyRevocation
{
    Revoked,
    AlreadyRevoked,
    NotFound,
}

/// <summary>
/// API keys: <c>crk_&lt;id&gt;_&lt;secret&gt;</c>, 256 random bits of secret. Only the SHA-256 of the
/// whole key is stored (a fast hash is right for a high-entropy secret: there is nothing to
/// brute-force). Look-ups are cached briefly because every bulk request presents a key.
/// </summary>
public sealed class ApiKeyStore(RegistryDatabase database, IMemoryCache cache, TimeProvider time, ILogger<ApiKeyStore> logger)
{
    /// <summary>
    /// How long a look-up is reused. A revocation must take effect on every replica within a
    /// second, and this is how: a read never serves for longer than a quarter of a second, so a
    /// replica that read a key before it was revoked reads it again, revoked, at most a quarter of
    /// a second later, leaving the rest of the second for a loaded replica's own delays (at half a
    /// second, a replica sharing two busy cores with a test run took 1,025 and 1,068 ms).
    /// Each active key costs four indexed reads a second per replica, however many requests it
    /// sends (concurrent requests share one read): nothing next to bulk lookups. A revocation
    /// poller would save those reads but needs a change counter in the schema and a clock-proof
    /// way to page through it.
    /// </summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// While the store cannot be reached, the last answer it gave for a key stands this long, so
    /// lookups (served from memory) keep working through a short outage of the store. A key
    /// revoked on another replica during such an outage is refused once the store answers again.
    /// </summary>
    public static readonly TimeSpan LastAnswerThroughOutage = TimeSpan.FromSeconds(30);

    /// <summary>Each replica writes a key's <c>last_used_at</c> at most this often, not once per request.</summary>
    public static readonly TimeSpan LastUseResolution = TimeSpan.FromMinutes(1);

    public const int MaxPageSize = 500;

    private const string Insert = """
        INSERT INTO api_keys (id, key_hash, name, role, created_at, write_claims_per_hour, write_subjects_per_hour)
        VALUES (@id, @keyHash, @name, @role, @createdAt, @claims, @subjects)
        """;

    private const string SelectByHash = """
        SELECT id, name, role, created_at, write_claims_per_hour, write_subjects_per_hour FROM api_keys
        WHERE key_hash = @keyHash AND revoked_at IS NULL
        """;

    // Key ids are 16 lowercase hex digits: their order is the same under every collation.
    private const string SelectPage = """
        SELECT id, name, role, created_at, last_used_at, revoked_at, write_claims_per_hour, write_subjects_per_hour FROM api_keys
        WHERE id > @after
        ORDER BY id
        LIMIT @limit
        """;

    // Never moves backwards: another replica may have written a later use already.
    private const string UpdateLastUsed = """
        UPDATE api_keys SET last_used_at = @now WHERE id = @id AND (last_used_at IS NULL OR last_used_at < @now)
        """;

    private const string Revoke = "UPDATE api_keys SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL";

    private const string SelectHashById = "SELECT key_hash FROM api_keys WHERE id = @id";

    private const string UpdateWriteBudget = """
        UPDATE api_keys SET write_claims_per_hour = @claims, write_subjects_per_hour = @subjects WHERE id = @id
        """;

    // Key id → when this replica last wrote its last_used_at (unix seconds).
    private readonly ConcurrentDictionary<string, long> _lastUseWritten = new(StringComparer.Ordinal);

    public async Task<(ApiKeyInfo Info, string Key)> CreateAsync(string name, string role, CancellationToken cancellationToken, WriteBudget? writeBudget = null)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var key = $"crk_{id}_{Core.Claims.Base64Url.Encode(RandomNumberGenerator.GetBytes(32))}";
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(Insert,
            new { id, keyHash = Hash(key), name, role, createdAt = Now(), claims = writeBudget?.ClaimsPerHour, subjects = writeBudget?.SubjectsPerHour },
            cancellationToken: cancellationToken));
        return (new ApiKeyInfo(id, name, role, writeBudget), key);
    }

    /// <summary>
    /// How long this instance remembers a key it revoked, whatever its caches say: longer than a read
    /// begun before the revocation can take (the command timeout) plus the life of the answer it
    /// leaves behind (<see cref="LastAnswerThroughOutage"/>).
    /// </summary>
    public static readonly TimeSpan RevokedHereFor = TimeSpan.FromMinutes(5);

    /// <summary>The key's facts, or null when it is unknown or revoked.</summary>
    public async Task<ApiKeyInfo?> FindAsync(string key, CancellationToken cancellationToken)
    {
        var keyHash = Hash(key);
        if (_revokedHere.ContainsKey(keyHash))
        {
            return null; // whatever a read begun before the revocation left in the caches
        }

        // The task is cached, not its result: concurrent requests with one key share one read, which
        // no single request may cancel. A failed read is kept for the same half second, so a store
        // outage is not hammered by every request either.
        var lookup = cache.GetOrCreate(ReadKey(keyHash), entry =>
        {
            entry.AbsoluteExpirationRelativeToNow = CacheFor;
            entry.Size = 1;
            return ReadAsync(keyHash);
        })!;
        try
        {
            return await lookup.WaitAsync(cancellationToken);
        }
        catch (Exception e) when (TransientStoreErrors.IsTransient(e) && cache.TryGetValue(LastAnswerKey(keyHash), out LastAnswer? last))
        {
            return last!.Info;
        }
    }

    /// <summary>Keys (as hashes) remembered as once found valid, at most (keys are made by admins: a few thousand at most in practice).</summary>
    public const int MaxRememberedValid = 100_000;

    private readonly ConcurrentDictionary<string, bool> _foundValid = new(StringComparer.Ordinal);

    // Key hash → when this instance revoked it (unix seconds). A revocation removes the key from the
    // caches, but a read that began before it may end after it and put the key back as valid (in
    // the read cache for a quarter of a second, as the last answer through an outage for 30 s); a
    // key is never un-revoked, so this instance checks here first. Entries older than
    // RevokedHereFor are dropped at the next revocation.
    private readonly ConcurrentDictionary<string, long> _revokedHere = new(StringComparer.Ordinal);

    /// <summary>
    /// Whether this instance's store answered that the key is valid, and has not answered since that
    /// it is revoked: such a key is not held back by <see cref="UnknownKeyLimiter"/>. No store read.
    /// </summary>
    public bool WasFoundValid(string key)
    {
        var keyHash = Hash(key);
        return _foundValid.ContainsKey(keyHash) && !_revokedHere.ContainsKey(keyHash);
    }

    /// <summary>
    /// Notes that the key was just used: writes <c>last_used_at</c> when this replica has not written
    /// it for a minute. A failed write is logged and does not fail the request it came with.
    /// </summary>
    public async Task NoteUseAsync(string id)
    {
        var now = Now();
        var written = _lastUseWritten.TryGetValue(id, out var last);
        if (written && now - last < (long)LastUseResolution.TotalSeconds)
        {
            return;
        }

        // Of the requests that find the minute over, only the one that moves the mark writes.
        if (written ? !_lastUseWritten.TryUpdate(id, now, last) : !_lastUseWritten.TryAdd(id, now))
        {
            return;
        }

        try
        {
            // Not cancelled with the request: a client that leaves does not undo its use.
            await using var connection = await database.OpenConnectionAsync(CancellationToken.None);
            await connection.ExecuteAsync(new CommandDefinition(UpdateLastUsed, new { id, now }));
        }
        catch (Exception e) when (e is DbException or TimeoutException)
        {
            logger.LogWarning(e, "Recording the use of API key {KeyId} failed; the next use after a minute tries again", id);
        }
    }

    /// <summary>One page of stored keys, in id order, after the key id <paramref name="after"/> ("" for the first page).</summary>
    internal async Task<IReadOnlyList<ApiKeyRow>> ListAsync(string after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<ApiKeyRow>(new CommandDefinition(SelectPage, new { after, limit }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>
    /// Revokes the key: from now on this replica refuses it, and every other replica within
    /// <see cref="CacheFor"/>. Revoking a revoked key changes nothing.
    /// </summary>
    public async Task<ApiKeyRevocation> RevokeAsync(string id, CancellationToken cancellationToken)
    {
        string? keyHash;
        int revoked;
        await using (var connection = await database.OpenConnectionAsync(cancellationToken))
        {
            revoked = await connection.ExecuteAsync(new CommandDefinition(Revoke, new { id, now = Now() }, cancellationToken: cancellationToken));
            keyHash = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(SelectHashById, new { id }, cancellationToken: cancellationToken));
        }

        if (keyHash is null)
        {
            return ApiKeyRevocation.NotFound;
        }

        ForgetOldRevocations();
        _revokedHere[keyHash] = Now();
        cache.Remove(ReadKey(keyHash));
        cache.Remove(LastAnswerKey(keyHash));
        _foundValid.TryRemove(keyHash, out _);
        _lastUseWritten.TryRemove(id, out _);
        return revoked == 1 ? ApiKeyRevocation.Revoked : ApiKeyRevocation.AlreadyRevoked;
    }

    public static string Hash(string key)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        return Convert.ToHexStringLower(hash);
    }

    private async Task<ApiKeyInfo?> ReadAsync(string keyHash)
    {
        await using var connection = await database.OpenConnectionAsync(CancellationToken.None);
        var row = await connection.QuerySingleOrDefaultAsync<ApiKeyRow>(new CommandDefinition(SelectByHash, new { keyHash }));
        var info = row is null ? null : new ApiKeyInfo(row.Id, row.Name, row.Role, BudgetOf(row));
        if (info is null)
        {
            _foundValid.TryRemove(keyHash, out _); // revoked: held back again, as any key not valid
        }
        else if (_foundValid.Count < MaxRememberedValid)
        {
            _foundValid.TryAdd(keyHash, true);
        }

        cache.Set(LastAnswerKey(keyHash), new LastAnswer(info), new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = LastAnswerThroughOutage, Size = 1 });
        return info;
    }

    /// <summary>
    /// Sets (or, with null, clears back to the configured default) a key's own write budget. This
    /// replica applies it at once; every other within <see cref="CacheFor"/>. False: no such key.
    /// </summary>
    public async Task<bool> SetWriteBudgetAsync(string id, WriteBudget? budget, CancellationToken cancellationToken)
    {
        string? keyHash;
        await using (var connection = await database.OpenConnectionAsync(cancellationToken))
        {
            await connection.ExecuteAsync(new CommandDefinition(UpdateWriteBudget,
                new { id, claims = budget?.ClaimsPerHour, subjects = budget?.SubjectsPerHour }, cancellationToken: cancellationToken));
            keyHash = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(SelectHashById, new { id }, cancellationToken: cancellationToken));
        }

        if (keyHash is not null)
        {
            cache.Remove(ReadKey(keyHash));
        }

        return keyHash is not null;
    }

    private void ForgetOldRevocations()
    {
        var before = Now() - (long)RevokedHereFor.TotalSeconds;
        foreach (var (keyHash, revokedAt) in _revokedHere)
        {
            if (revokedAt < before)
            {
                _revokedHere.TryRemove(keyHash, out _);
            }
        }
    }

    internal static WriteBudget? BudgetOf(ApiKeyRow row) =>
        row is { WriteClaimsPerHour: { } claims, WriteSubjectsPerHour: { } subjects } ? new WriteBudget(claims, subjects) : null;

    internal static string ReadKey(string keyHash) => "api-key-read:" + keyHash;

    internal static string LastAnswerKey(string keyHash) => "api-key-last:" + keyHash;

    internal sealed record LastAnswer(ApiKeyInfo? Info);

    private long Now() => time.GetUtcNow().ToUnixTimeSeconds();
}

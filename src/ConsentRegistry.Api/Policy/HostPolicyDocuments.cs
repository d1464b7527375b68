using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Policy;
using Dapper;
using Microsoft.Extensions.Caching.Memory;

namespace ConsentRegistry.Api.Policy;

/// <summary>The two crawler documents of a host.</summary>
public enum HostDocumentKind : byte
{
    RobotsTxt,
    TdmRep,
}

/// <summary>One rendered host document as of <see cref="Seq"/>, the last seq that touched the host.</summary>
public sealed record HostDocument(string Host, long Seq, string ETag, byte[] Body);

/// <summary>
/// Renders a host's crawler documents from the claims the matching index lists for it (their
/// subjects read from the store) and keeps the bytes keyed by document, host and last seq, so a
/// repeat request costs a dictionary look-up and any claim, revocation or trust change touching
/// the host is a new key (docs/decisions/0005). Concurrent misses on one key share one render; a
/// host nobody claimed (seq 0) renders without the store and is not cached, so requests for
/// made-up host names cannot fill the cache.
/// </summary>
public sealed class HostPolicyDocuments(SharedMatchingIndex index, RegistryDatabase database, LookupEngine engine, RegistryMetrics metrics) : IDisposable
{
    // SQLite gets one parameter per seq (Dapper expands the list); PostgreSQL one array.
    private const int SeqsPerQuery = 500;

    /// <summary>Each document is at most 500 KiB (RobotsTxt.MaxBytes, TdmRep.MaxBytes): the cache holds 64 of the largest.</summary>
    private const long CacheBytes = 64L * 1024 * 1024;

    /// <summary>Bump the "r2" when the documents' format changes; the crawler tokens count by themselves.</summary>
    private static readonly string RenderingVersion = Convert.ToHexStringLower(
        SHA256.HashData(Encoding.UTF8.GetBytes("r2\n" + string.Join('\n', AiCrawlers.All.Select(c => c.Token))))).AsSpan(0, 8).ToString();

    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = CacheBytes });
    private readonly ConcurrentDictionary<Key, Lazy<Task<HostDocument>>> _rendering = new();
    private readonly string _selectClaims = $"SELECT seq, license, subjects FROM claims WHERE seq {database.InList("@seqs")} ORDER BY seq";
    /// <summary>The last seq that touched <paramref name="host"/>: what the documents' ETag says, without rendering them.</summary>
    public long LastSeq(string host)
    {
        using var scope = index.Read();
        return scope.Index.HostClaims(host, null);
    }

    /// <summary>
    /// A strong validator from the last seq, and from what else decides the bytes: the trust a
    /// consent needs, and the crawler list and rendering (so that an upgrade is not served from caches).
    /// </summary>
    public string ETagOf(long seq) => $"\"{seq}-{engine.MinTrustForGrants.ToWire()}-{RenderingVersion}\"";

    public async Task<HostDocument> GetAsync(string host, HostDocumentKind kind, CancellationToken cancellationToken)
    {
        var seq = LastSeq(host);
        if (seq == 0)
        {
            metrics.PolicyRendered(NameOf(kind), fromStore: false);
            return new HostDocument(host, 0, ETagOf(0), Render(host, 0, kind, []));
        }

        var key = new Key(kind, host, seq);
        if (_cache.TryGetValue(key, out HostDocument? cached) && cached is not null)
        {
            return cached;
        }

        // The render is not the request's: one request giving up does not cancel it for the others.
        var render = _rendering.GetOrAdd(key, k => new Lazy<Task<HostDocument>>(() => RenderAsync(k)));
        return await render.Value.WaitAsync(cancellationToken);
    }

    public void Dispose() => _cache.Dispose();

    private static string NameOf(HostDocumentKind kind) => kind == HostDocumentKind.RobotsTxt ? "robots.txt" : "tdmrep.json";

    private static byte[] Render(string host, long seq, HostDocumentKind kind, List<PolicyRule> rules) =>
        kind == HostDocumentKind.RobotsTxt ? RobotsTxt.Render(host, seq, rules) : TdmRep.Render(rules);

    private async Task<HostDocument> RenderAsync(Key key)
    {
        try
        {
            // One per (document, host, seq) however many requests missed the cache at once.
            metrics.PolicyRendered(NameOf(key.Kind), fromStore: true);
            List<ClaimEntry> claims = [];
            long seq;
            using (var scope = index.Read())
            {
                seq = scope.Index.HostClaims(key.Host, claims);
            }

            var rules = HostPolicy.Resolve(key.Host, await ReadAsync(claims, CancellationToken.None));
            var document = new HostDocument(key.Host, seq, ETagOf(seq), Render(key.Host, seq, key.Kind, rules));
            _cache.Set(key with { Seq = seq }, document, new MemoryCacheEntryOptions
            {
                Size = document.Body.Length + 256,
                SlidingExpiration = TimeSpan.FromHours(1),
            });
            return document;
        }
        finally
        {
            _rendering.TryRemove(key, out _);
        }
    }

    private async Task<List<PolicyClaim>> ReadAsync(List<ClaimEntry> claims, CancellationToken cancellationToken)
    {
        var result = new List<PolicyClaim>(claims.Count);
        if (claims.Count == 0)
        {
            return result;
        }

        var bySeq = new Dictionary<long, ClaimEntry>(claims.Count);
        foreach (var claim in claims)
        {
            bySeq.TryAdd(claim.Seq, claim);
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        foreach (var chunk in bySeq.Keys.Order().Chunk(SeqsPerQuery))
        {
            var rows = await connection.QueryAsync<PolicyClaimRow>(new CommandDefinition(_selectClaims, new { seqs = chunk }, cancellationToken: cancellationToken));
            foreach (var row in rows)
            {
                var claim = bySeq[row.Seq];
                result.Add(new PolicyClaim(claim.Party, claim.Iat, claim.Seq, claim.Usage, claim.Trust >= engine.MinTrustForGrants,
                    row.License, StoredSubjects.Decode(row.Subjects)));
            }
        }

        return result;
    }

    private readonly record struct Key(HostDocumentKind Kind, string Host, long Seq);

    private sealed record PolicyClaimRow
    {
        public long Seq { get; init; }
        public string? License { get; init; }
        public required string Subjects { get; init; }
    }
}

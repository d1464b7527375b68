using System.Collections.Concurrent;
using System.Data;
using System.Security.Cryptography;
using System.Text;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Policy;
using Dapper;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Policy;

/// <summary>The two crawler documents of a host.</summary>
public enum HostDocumentKind : byte
{
    RobotsTxt,
    TdmRep,
}

/// <summary>One rendered host document as of <see cref="Seq"/>, the last seq that touched the host, rendered at <see cref="RenderedAt"/> (a timestamp).</summary>
public sealed record HostDocument(string Host, long Seq, string ETag, byte[] Body, long RenderedAt = 0);

/// <summary>
/// Serves a host's crawler documents from the last rendering kept per (document, host), and
/// renders them again in the background when a claim, revocation or trust change has touched the
/// host since (docs/decisions/0005, 0009): at most once per <see cref="PolicyOptions.MinRenderInterval"/>
/// per host, one render at a time across hosts, the previous document served meanwhile with its
/// own ETag. A render reads the claims the index lists for the host in chunks and folds their
/// subjects into a bounded set (<see cref="HostSubjectFold"/>), so neither a request nor a render
/// costs in proportion to every subject on the host. A host nobody claimed (seq 0) renders without
/// the store and is not kept, so requests for made-up host names cannot fill the cache.
/// </summary>
public sealed class HostPolicyDocuments(
    SharedMatchingIndex index, RegistryDatabase database, LookupEngine engine, RegistryMetrics metrics, IOptions<PolicyOptions> options, TimeProvider time) : IDisposable
{
    // SQLite gets one parameter per seq (Dapper expands the list); PostgreSQL one array.
    private const int SeqsPerQuery = 500;

    /// <summary>Each document is at most 500 KiB (RobotsTxt.MaxBytes, TdmRep.MaxBytes): the cache holds 64 of the largest.</summary>
    private const long CacheBytes = 64L * 1024 * 1024;

    /// <summary>Bump the "r3" when the documents' format changes; the crawler tokens count by themselves.</summary>
    private static readonly string RenderingVersion = Convert.ToHexStringLower(
        SHA256.HashData(Encoding.UTF8.GetBytes("r3\n" + string.Join('\n', AiCrawlers.All.Select(c => c.Token))))).AsSpan(0, 8).ToString();

    private readonly PolicyOptions _options = options.Value;
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = CacheBytes });
    private readonly ConcurrentDictionary<Key, Lazy<Task<HostDocument>>> _rendering = new();
    private readonly SemaphoreSlim _renderSlot = new(1, 1);

    // Renders are background work (the last document is served meanwhile): on a thread of lower
    // priority, so that reading and folding millions of subjects yields the cores to requests.
    private readonly LowPriorityScheduler _renderer = new(1, "Policy renderer");
    private readonly string _selectClaims = $"SELECT seq, license, subjects FROM claims WHERE seq {database.InList("@seqs")} ORDER BY seq";

    /// <summary>The most (subject, party) entries the last store render held (for tests).</summary>
    internal int LastRenderPeakEntries { get; private set; }

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

    /// <summary>
    /// The document to serve now: the kept one if no change touched the host since; else, when
    /// the interval allows, a new render starts and the request waits for it up to
    /// <see cref="PolicyOptions.RevalidateWait"/> (0 by default), or <see cref="PolicyOptions.FirstRenderWait"/>
    /// when nothing is kept; meanwhile the kept one (stale); null when there is none yet and the
    /// first render is still running.
    /// </summary>
    public async Task<HostDocument?> GetAsync(string host, HostDocumentKind kind, CancellationToken cancellationToken)
    {
        var seq = LastSeq(host);
        if (seq == 0)
        {
            metrics.PolicyRendered(NameOf(kind), fromStore: false);
            return new HostDocument(host, 0, ETagOf(0), Render(host, 0, kind, []));
        }

        var key = new Key(kind, host);
        var kept = _cache.TryGetValue(key, out HostDocument? document) ? document : null;
        if (kept is not null && kept.Seq >= seq)
        {
            return kept;
        }

        if (kept is not null && time.GetElapsedTime(kept.RenderedAt) < _options.MinRenderInterval)
        {
            metrics.PolicyServedStale(NameOf(kind));
            return kept;
        }

        // The render is not the request's: one request giving up does not cancel it for the others.
        // On the renderer's thread: a request waits at most FirstRenderWait for it, whatever the store does.
        var render = _rendering.GetOrAdd(key, k => new Lazy<Task<HostDocument>>(() => _renderer.Run(() => RenderAsync(k)))).Value;
        try
        {
            return await render.WaitAsync(kept is null ? _options.FirstRenderWait : _options.RevalidateWait, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            if (kept is not null)
            {
                metrics.PolicyServedStale(NameOf(kind));
            }

            return kept;
        }
    }

    public void Dispose()
    {
        _renderer.Dispose();
        _cache.Dispose();
        _renderSlot.Dispose();
    }

    private static string NameOf(HostDocumentKind kind) => kind == HostDocumentKind.RobotsTxt ? "robots.txt" : "tdmrep.json";

    private static byte[] Render(string host, long seq, HostDocumentKind kind, List<PolicyRule> rules) =>
        kind == HostDocumentKind.RobotsTxt ? RobotsTxt.Render(host, seq, rules) : TdmRep.Render(rules);

    private async Task<HostDocument> RenderAsync(Key key)
    {
        try
        {
            await _renderSlot.WaitAsync();
            try
            {
                // One per (document, host) however many requests found it stale at once.
                metrics.PolicyRendered(NameOf(key.Kind), fromStore: true);
                List<ClaimEntry> claims = [];
                long seq;
                using (var scope = index.Read())
                {
                    seq = scope.Index.HostClaims(key.Host, claims);
                }

                var fold = await FoldAsync(key.Host, claims, CancellationToken.None);
                LastRenderPeakEntries = fold.PeakEntries;
                var rules = HostPolicy.Resolve(key.Host, fold.ToClaims());
                var document = new HostDocument(key.Host, seq, ETagOf(seq), Render(key.Host, seq, key.Kind, rules), time.GetTimestamp());
                _cache.Set(key, document, new MemoryCacheEntryOptions
                {
                    Size = document.Body.Length + 256,
                    SlidingExpiration = TimeSpan.FromHours(1),
                });
                return document;
            }
            finally
            {
                _renderSlot.Release();
            }
        }
        finally
        {
            _rendering.TryRemove(key, out _);
        }
    }

    /// <summary>Reads the claims' subjects in chunks of seqs and folds them as they come: memory bounded by the fold, not the host.</summary>
    private async Task<HostSubjectFold> FoldAsync(string host, List<ClaimEntry> claims, CancellationToken cancellationToken)
    {
        var fold = new HostSubjectFold(host, _options.MaxRenderEntries);
        if (claims.Count == 0)
        {
            return fold;
        }

        var bySeq = new Dictionary<long, ClaimEntry>(claims.Count);
        foreach (var claim in claims)
        {
            bySeq.TryAdd(claim.Seq, claim);
        }

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        foreach (var chunk in bySeq.Keys.Order().Chunk(SeqsPerQuery))
        {
            // Sequential: each row's subjects (up to 10,000, about a megabyte of text) stream through a
            // small buffer into the fold, which allocates only for the entries it keeps. Selecting seq,
            // the rowid, lets SQLite read the column incrementally too.
            var command = new CommandDefinition(_selectClaims, new { seqs = chunk }, cancellationToken: cancellationToken);
            await using var reader = await connection.ExecuteReaderAsync(command, CommandBehavior.SequentialAccess);
            while (await reader.ReadAsync(cancellationToken))
            {
                var entry = bySeq[reader.GetInt64(0)];
                var license = await reader.IsDBNullAsync(1, cancellationToken) ? null : reader.GetString(1);
                var claim = new HostSubjectFold.Claim(entry.Party, entry.Iat, entry.Seq, entry.Usage, entry.Trust >= engine.MinTrustForGrants, license);
                using var subjects = reader.GetTextReader(2);
                await StoredSubjects.ReadLinesAsync(subjects, (kind, value, includeSubdomains) => fold.Add(claim, kind, value, includeSubdomains), cancellationToken);
            }
        }

        return fold;
    }

    private readonly record struct Key(HostDocumentKind Kind, string Host);
}

using System.Data.Common;
using System.Runtime.CompilerServices;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using Dapper;

namespace ConsentRegistry.Api.Storage;

/// <summary>Reads the log after a seq, from one consistent snapshot, for the matching index.</summary>
public sealed class LogReader(RegistryDatabase database)
{
    private const string SelectLastSeq = "SELECT last_seq FROM registry_sequence WHERE id = 1";

    private const string SelectStoreId = "SELECT store_id FROM store_identity WHERE id = 1";

    private const string SelectClaims = $"SELECT {ClaimsTable.SelectWithoutJws} FROM claims WHERE seq > @after AND seq <= @upTo ORDER BY seq";

    private const string SelectRevocations = "SELECT seq, claim_id FROM revocations WHERE seq > @after AND seq <= @upTo ORDER BY seq";

    private const string SelectDerived = "SELECT seq, claim_id, url, subjects FROM derived_fingerprints WHERE seq > @after AND seq <= @upTo ORDER BY seq";

    private const string SelectTrustChanges = "SELECT seq, claim_id, trust FROM trust_changes WHERE seq > @after AND seq <= @upTo ORDER BY seq";

    /// <summary>The store's identity (made once, with the schema), which index snapshots record.</summary>
    public async Task<Guid> StoreIdAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var id = await connection.ExecuteScalarAsync<object>(new CommandDefinition(SelectStoreId, cancellationToken: cancellationToken));
        return id is Guid guid ? guid : Guid.Parse(Convert.ToString(id, System.Globalization.CultureInfo.InvariantCulture)!);
    }

    /// <summary>The last seq in the store.</summary>
    public async Task<long> LastSeqAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(SelectLastSeq, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Applies every change after <paramref name="after"/> to <paramref name="index"/>: claims as
    /// they stand now (trust and revocation included), then derived fingerprints, revocations and
    /// trust changes in seq order. Claims and derived sets are streamed, so a first build does not
    /// hold the whole log in memory.
    /// </summary>
    public async Task<long> ApplyAsync(long after, Action<Action<MatchingIndex>> write, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var snapshot = await database.BeginSnapshotAsync(connection, cancellationToken);
        var upTo = await connection.ExecuteScalarAsync<long>(new CommandDefinition(SelectLastSeq, transaction: snapshot, cancellationToken: cancellationToken));
        if (upTo <= after)
        {
            return after;
        }

        var args = new { after, upTo };

        // Own commits may have been applied since `after` was read, some of them past `upTo`: they
        // were applied in order, so this pass must not apply their trust changes again after them.
        var applied = after;
        write(index =>
        {
            applied = index.AppliedSeq;
            index.BeginLogPass();
        });
        var batch = new List<IndexedClaim>(256);
        await foreach (var row in StreamAsync<ClaimRow>(connection, SelectClaims, args, snapshot, cancellationToken))
        {
            batch.Add(ToIndexedClaim(row));
            if (batch.Count == batch.Capacity)
            {
                write(index => batch.ForEach(index.Add));
                batch.Clear();
            }
        }

        write(index => batch.ForEach(index.Add));
        batch.Clear();
        var derived = new List<DerivedFingerprints>(256);
        await foreach (var row in StreamAsync<(long Seq, string ClaimId, string Url, string Subjects)>(connection, SelectDerived, args, snapshot, cancellationToken))
        {
            derived.Add(new DerivedFingerprints(row.ClaimId, row.Url, row.Seq, StoredSubjects.Decode(row.Subjects)));
            if (derived.Count == derived.Capacity)
            {
                write(index => derived.ForEach(set => index.AddDerived(set)));
                derived.Clear();
            }
        }

        var revocations = await connection.QueryAsync<(long Seq, string ClaimId)>(new CommandDefinition(SelectRevocations, args, snapshot, cancellationToken: cancellationToken));
        var trustChanges = await connection.QueryAsync<(long Seq, string ClaimId, TrustLevel Trust)>(new CommandDefinition(SelectTrustChanges, args, snapshot, cancellationToken: cancellationToken));
        write(index =>
        {
            derived.ForEach(set => index.AddDerived(set));
            foreach (var (seq, claimId) in revocations.Where(r => r.Seq > applied))
            {
                index.Revoke(claimId, seq);
            }

            foreach (var (seq, claimId, trust) in trustChanges.Where(t => t.Seq > applied))
            {
                index.SetTrust(claimId, trust, seq);
            }

            index.EndLogPass(upTo);
        });
        return upTo;
    }

    /// <summary>
    /// The rows of <paramref name="sql"/> one at a time, read to their end. Not Dapper's
    /// <c>QueryUnbufferedAsync</c>: it cancels its command when it is done if the reader still
    /// says it is open, which Npgsql's does after its last row, and on PostgreSQL a cancellation is
    /// a new connection (a server process started and ended): two for every pass over the log.
    /// </summary>
    private static async IAsyncEnumerable<T> StreamAsync<T>(
        DbConnection connection, string sql, object args, DbTransaction transaction, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var reader = await connection.ExecuteReaderAsync(new CommandDefinition(sql, args, transaction, cancellationToken: cancellationToken));
        var parse = reader.GetRowParser<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return parse(reader);
        }
    }

    private static IndexedClaim ToIndexedClaim(ClaimRow row) => new(
        row.Id, row.Seq, row.Party, row.Iat, row.Usage, row.Trust, row.RevokedSeq is not null, StoredSubjects.Decode(row.Subjects));
}

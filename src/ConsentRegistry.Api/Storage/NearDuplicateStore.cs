using ConsentRegistry.Api.Claims;
using ConsentRegistry.Core.Claims;
using Dapper;

namespace ConsentRegistry.Api.Storage;

/// <summary>
/// The SQL of near-duplicate pairs (<c>near_duplicate_pairs</c>) and of the scan of the log that
/// records them: what each claim and each derived set carries, read past the scan's mark; the
/// pairs found, written with the mark moved on, once (a scan that finds the mark moved by another
/// instance meanwhile writes nothing).
/// </summary>
public sealed class NearDuplicateStore(RegistryDatabase database, NearDuplicateCheckStore checkStore)
{
    /// <summary>Claims read by one pass of the scan at most.</summary>
    public const int ClaimsPerPass = 64;

    /// <summary>Derived sets read by one pass of the scan at most (a few KB each): a scan far behind the workers catches up in bounded steps.</summary>
    public const int DerivedPerPass = 256;

    /// <summary>
    /// Subjects of the claims one pass reads at most (one claim may exceed it alone): 64 claims of
    /// 10,000 subjects are up to 512 MB of packed text, read for the few image subjects among them.
    /// </summary>
    public const int SubjectsPerPass = 20_000;

    /// <summary>Image subjects kept of each claim or set read, as many as the search takes.</summary>
    public const int ImageSubjectsPerEntry = 256;

    private const string SelectMark = "SELECT scanned_seq FROM near_duplicate_scan WHERE id = 1";

    private const string SelectClaimSizes = """
        SELECT seq, subject_count FROM claims WHERE seq > @after AND seq <= @upTo AND revoked_seq IS NULL ORDER BY seq LIMIT @limit
        """;

    private const string SelectClaims = """
        SELECT seq, id, subjects FROM claims WHERE seq > @after AND seq <= @upTo AND revoked_seq IS NULL ORDER BY seq
        """;

    private const string SelectDerived = """
        SELECT seq, claim_id, url, subjects FROM derived_fingerprints WHERE seq > @after AND seq <= @upTo ORDER BY seq LIMIT @limit
        """;

    // The latest set per URL, the first @limit URLs only: a 10,000-URL claim's sets are tens of MB,
    // and the search takes 256 image subjects at most. Picking the seqs reads no subjects column.
    private const string SelectLatestDerived = """
        SELECT subjects FROM derived_fingerprints
        WHERE seq IN (SELECT MAX(seq) FROM derived_fingerprints WHERE claim_id = @claimId GROUP BY url ORDER BY MAX(seq) LIMIT @limit)
        ORDER BY seq
        """;

    private const string InsertPair = """
        INSERT INTO near_duplicate_pairs (claim_a, claim_b, match_kind, distance, similarity, conflict, found_seq, found_at)
        VALUES (@ClaimA, @ClaimB, @MatchKind, @Distance, @Similarity, @Conflict, @FoundSeq, @FoundAt)
        ON CONFLICT DO NOTHING
        """;

    private const string AdvanceMark = "UPDATE near_duplicate_scan SET scanned_seq = @upTo WHERE id = 1";

    private const string SelectClaimSubjects = "SELECT subjects FROM claims WHERE id = @claimId";

    // One row per pair of claims (the first recorded: a pair that PDQ and an embedding both found
    // has a row for each), through the (claim_a, claim_b, match_kind) key.
    private const string SelectConflicts = """
        SELECT p.id, p.match_kind, p.distance, p.similarity, p.found_seq, p.found_at,
               a.id AS a_id, a.subject_count AS a_subject_count, b.subject_count AS b_subject_count, a.party AS a_party, a.tdm AS a_tdm, a.train_ai AS a_train_ai, a.train_genai AS a_train_genai, a.ai_use AS a_ai_use, a.search AS a_search,
               b.id AS b_id, b.party AS b_party, b.tdm AS b_tdm, b.train_ai AS b_train_ai, b.train_genai AS b_train_genai, b.ai_use AS b_ai_use, b.search AS b_search
        FROM near_duplicate_pairs p
        JOIN claims a ON a.id = p.claim_a
        JOIN claims b ON b.id = p.claim_b
        WHERE p.conflict = 1 AND p.id > @after AND a.revoked_seq IS NULL AND b.revoked_seq IS NULL
          AND NOT EXISTS (SELECT 1 FROM near_duplicate_pairs q WHERE q.claim_a = p.claim_a AND q.claim_b = p.claim_b AND q.conflict = 1 AND q.id < p.id)
        ORDER BY p.id
        LIMIT @limit
        """;

    // Pairs found by aligned verification: the live search cannot find them again (the worker compared pictures).
    private const string SelectAlignedPairs = """
        SELECT o.id AS claim, o.party, p.distance, p.conflict
        FROM near_duplicate_pairs p
        JOIN claims o ON o.id = CASE WHEN p.claim_a = @claimId THEN p.claim_b ELSE p.claim_a END
        WHERE (p.claim_a = @claimId OR p.claim_b = @claimId) AND p.match_kind = 'aligned' AND o.revoked_seq IS NULL
        ORDER BY p.id
        LIMIT @limit
        """;

    private readonly string _lockMark = $"SELECT scanned_seq FROM near_duplicate_scan WHERE id = 1{database.LockRows}";

    /// <summary>
    /// The next stretch of the log to scan, up to <paramref name="upTo"/> (what the caller's index
    /// reflects): its claims' and derived sets' image subjects (the first
    /// <see cref="ImageSubjectsPerEntry"/> of each), at most <see cref="ClaimsPerPass"/> claims of about
    /// <see cref="SubjectsPerPass"/> subjects in all, and <see cref="DerivedPerPass"/> derived sets (the
    /// stretch ends at the last one read).
    /// </summary>
    public async Task<ScanPass> ReadPassAsync(long upTo, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var after = await connection.ExecuteScalarAsync<long>(new CommandDefinition(SelectMark, cancellationToken: cancellationToken));
        if (upTo <= after)
        {
            return new ScanPass(after, after, []);
        }

        // The sizes first, so that the stretch ends before its claims' subjects outgrow the pass.
        var sizes = (await connection.QueryAsync<(long Seq, long Subjects)>(new CommandDefinition(
            SelectClaimSizes, new { after, upTo, limit = ClaimsPerPass }, cancellationToken: cancellationToken))).AsList();
        long subjects = 0;
        for (var i = 0; i < sizes.Count; i++)
        {
            subjects += sizes[i].Subjects;
            if (i > 0 && subjects > SubjectsPerPass)
            {
                upTo = sizes[i - 1].Seq;
                break;
            }

            if (i == ClaimsPerPass - 1)
            {
                upTo = sizes[i].Seq;
            }
        }

        var claims = (await connection.QueryAsync<(long Seq, string Id, string Subjects)>(new CommandDefinition(
            SelectClaims, new { after, upTo }, cancellationToken: cancellationToken))).AsList();

        var derived = (await connection.QueryAsync<(long Seq, string ClaimId, string Url, string Subjects)>(new CommandDefinition(
            SelectDerived, new { after, upTo, limit = DerivedPerPass }, cancellationToken: cancellationToken))).AsList();
        if (derived.Count == DerivedPerPass)
        {
            upTo = derived[^1].Seq;
            claims.RemoveAll(c => c.Seq > upTo);
        }

        var entries = claims.Select(c => new ScanEntry(c.Seq, c.Id, ImageSubjects(c.Subjects)))
            .Concat(derived.Select(d => new ScanEntry(d.Seq, d.ClaimId, ImageSubjects(d.Subjects), d.Url)))
            .OrderBy(e => e.Seq)
            .ToList();
        return new ScanPass(after, upTo, entries);
    }

    /// <summary>The PDQ and embedding subjects of a packed column, the first <paramref name="limit"/>: the others are never searched.</summary>
    private static List<Subject> ImageSubjects(string packed, int limit = ImageSubjectsPerEntry) =>
        StoredSubjects.Decode(packed, static kind => kind is SubjectKinds.Pdq or SubjectKinds.Embedding, limit);

    /// <summary>
    /// Writes the pairs a pass found, then the aligned verifications it proposes (those of two claims now paired
    /// left out), and moves the mark to its end; false (nothing written) when another instance moved it first.
    /// </summary>
    public async Task<bool> WritePassAsync(ScanPass pass, IReadOnlyList<PairRow> pairs, IReadOnlyList<CheckRow> checks, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        if (await connection.ExecuteScalarAsync<long>(new CommandDefinition(_lockMark, transaction: transaction, cancellationToken: cancellationToken)) != pass.After)
        {
            return false;
        }

        await connection.ExecuteAsync(new CommandDefinition(InsertPair, pairs, transaction, cancellationToken: cancellationToken));
        await checkStore.InsertAsync(connection, transaction, checks, cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(AdvanceMark, new { upTo = pass.UpTo }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// What <c>GET /v1/claims/{id}/near-duplicates</c> searches for a claim: the image subjects of its
    /// own and of the latest set derived from each of its first URLs fetched, as many as
    /// <see cref="NearDuplicateSearch"/> takes; <c>Complete</c> is false when the claim has more
    /// (the search then covers only part of it). Null for a claim not in the store. Reads the
    /// subjects column and the derived sets only, not the claim's JWS.
    /// </summary>
    public async Task<(IReadOnlyList<Subject> Subjects, bool Complete)?> SearchedSubjectsAsync(string claimId, CancellationToken cancellationToken)
    {
        const int Limit = NearDuplicateSearch.MaxSubjectsSearched;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var own = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(SelectClaimSubjects, new { claimId }, cancellationToken: cancellationToken));
        if (own is null)
        {
            return null;
        }

        var sets = (await connection.QueryAsync<string>(new CommandDefinition(
            SelectLatestDerived, new { claimId, limit = Limit }, cancellationToken: cancellationToken))).AsList();
        var subjects = ImageSubjects(own, Limit + 1);
        foreach (var set in sets)
        {
            subjects.AddRange(ImageSubjects(set, Limit + 1 - subjects.Count));
        }

        var complete = subjects.Count <= Limit && sets.Count < Limit;
        return (subjects.Count > Limit ? subjects[..Limit] : subjects, complete);
    }

    /// <summary>
    /// The other claims, not revoked, that aligned verification found to hold a copy of this claim's picture (or whose
    /// picture this claim's is a copy of), the first <paramref name="limit"/> found.
    /// </summary>
    public async Task<IReadOnlyList<AlignedPairRow>> AlignedPairsAsync(string claimId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<AlignedPairRow>(new CommandDefinition(SelectAlignedPairs, new { claimId, limit }, cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>Recorded pairs that disagree, neither claim revoked, after pair <paramref name="after"/>; one row per pair of claims.</summary>
    public async Task<IReadOnlyList<ConflictRow>> ListConflictsAsync(long after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<ConflictRow>(new CommandDefinition(SelectConflicts, new { after, limit }, cancellationToken: cancellationToken))).AsList();
    }
}

/// <summary>One stretch of the log to scan: past <see cref="After"/>, up to <see cref="UpTo"/>.</summary>
public sealed record ScanPass(long After, long UpTo, IReadOnlyList<ScanEntry> Entries);

/// <summary>A claim's own subjects, or one derived set of it (<see cref="Url"/>: the claimed URL whose picture gave it), at its seq.</summary>
public sealed record ScanEntry(long Seq, string ClaimId, IReadOnlyList<Subject> Subjects, string? Url = null);

/// <summary>A pair as stored: <see cref="ClaimA"/> sorts before <see cref="ClaimB"/>.</summary>
public sealed record PairRow(string ClaimA, string ClaimB, string MatchKind, int? Distance, double? Similarity, int Conflict, long FoundSeq, long FoundAt);

/// <summary>Another claim that aligned verification paired with a claim: its party, the overlapping parts' PDQ distance, whether they disagree.</summary>
public sealed record AlignedPairRow
{
    public required string Claim { get; init; }
    public required string Party { get; init; }
    public int Distance { get; init; }
    public int Conflict { get; init; }
}

/// <summary>An open conflict as <c>GET /v1/admin/conflicts</c> lists it, with both claims' parties and usage columns.</summary>
public sealed record ConflictRow
{
    public long Id { get; init; }
    public required string MatchKind { get; init; }
    public int? Distance { get; init; }
    public double? Similarity { get; init; }
    public long FoundSeq { get; init; }
    public long FoundAt { get; init; }
    public required string AId { get; init; }
    public long ASubjectCount { get; init; }
    public long BSubjectCount { get; init; }
    public required string AParty { get; init; }
    public string? ATdm { get; init; }
    public string? ATrainAi { get; init; }
    public string? ATrainGenai { get; init; }
    public string? AAiUse { get; init; }
    public string? ASearch { get; init; }
    public required string BId { get; init; }
    public required string BParty { get; init; }
    public string? BTdm { get; init; }
    public string? BTrainAi { get; init; }
    public string? BTrainGenai { get; init; }
    public string? BAiUse { get; init; }
    public string? BSearch { get; init; }
}

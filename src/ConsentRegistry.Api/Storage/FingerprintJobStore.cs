using System.Data.Common;
using ConsentRegistry.Api.Fingerprints;
using ConsentRegistry.Core.Claims;
using Dapper;

namespace ConsentRegistry.Api.Storage;

/// <summary>
/// The SQL of the fingerprint worker's queue (<c>fingerprint_jobs</c>) and of the derived sets it
/// appends to the log (<c>derived_fingerprints</c>). Jobs come from the log itself: every url
/// subject of a claim becomes one, in seq order, and a revocation drops its claim's jobs, so no
/// claim is missed whoever wrote it. A worker takes due jobs by writing its lease; PostgreSQL's
/// SKIP LOCKED lets several workers take from one queue without waiting on each other, and a
/// result is written only while its lease is the writer's, so no job's result lands twice.
/// </summary>
public sealed class FingerprintJobStore(RegistryDatabase database, ClaimLogStore log)
{
    /// <summary>
    /// Subjects of the claims one pass turns into jobs, and of the claims whose jobs its revocations
    /// drop, at most (one claim or revocation may exceed it alone): revoking a hundred claims of
    /// 10,000 URLs each is a million rows to delete, spread over fifty passes, not one.
    /// </summary>
    public const int EnqueueSubjectsPerPass = 20_000;

    /// <summary>Claims, and revocations, one pass reads the sizes of at most.</summary>
    private const int EnqueueEntriesPerPass = 1_000;

    /// <summary>Job rows one write transaction inserts or deletes at most.</summary>
    private const int InsertRowsPerStatement = 500;

    private const string SelectLastSeq = "SELECT last_seq FROM registry_sequence WHERE id = 1";

    // Two index probes, whatever the length of the log after the mark: most entries after it are
    // the worker's own derived sets, which need no enqueueing (nor a write to skip past them).
    private const string SelectAnythingToEnqueue = """
        SELECT CASE WHEN EXISTS (SELECT 1 FROM claims WHERE seq > q.enqueued_seq)
                      OR EXISTS (SELECT 1 FROM revocations WHERE seq > q.enqueued_seq) THEN 1 ELSE 0 END
        FROM fingerprint_queue q WHERE q.id = 1
        """;

    private const string SelectClaimSizes = """
        SELECT seq, subject_count FROM claims WHERE seq > @after AND seq <= @last ORDER BY seq LIMIT @limit
        """;

    // A revocation's size is its claim's: the jobs it drops are that claim's url subjects.
    private const string SelectRevocationSizes = """
        SELECT r.seq, c.subject_count FROM revocations r JOIN claims c ON c.id = r.claim_id
        WHERE r.seq > @after AND r.seq <= @last ORDER BY r.seq LIMIT @limit
        """;

    private const string SelectClaimSubjects = """
        SELECT seq, id, subjects FROM claims WHERE seq > @after AND seq <= @upTo AND revoked_seq IS NULL ORDER BY seq
        """;


    private const string AdvanceQueue = "UPDATE fingerprint_queue SET enqueued_seq = @upTo WHERE id = 1";

    private const string SelectJobs = """
        SELECT url, status, error, fetched_at, sha256, pdq, quality FROM fingerprint_jobs WHERE claim_id = @claimId
        """;

    private const string SelectRevoked = "SELECT revoked_seq FROM claims WHERE id = @ClaimId";

    private const string DeleteJob = "DELETE FROM fingerprint_jobs WHERE claim_id = @ClaimId AND url = @Url";

    private const string InsertDerived = """
        INSERT INTO derived_fingerprints (seq, claim_id, url, subjects, fetched_at) VALUES (@seq, @claimId, @url, @subjects, @fetchedAt)
        """;

    private readonly string _markDone = $"""
        UPDATE fingerprint_jobs
        SET status = 'done', attempts = 0, error = NULL, fetched_at = @fetchedAt, sha256 = @sha256, pdq = @pdq, quality = @quality,
            model = @model, due_at = {database.NowMilliseconds} + @waitMs, lease_owner = NULL, lease_until = NULL
        WHERE claim_id = @claimId AND url = @url AND lease_owner = @owner
        """;

    // The try was counted when the job was taken. A final failure starts the count again, like a
    // success: the re-fetch it schedules gets every retry and the backoff from its first step,
    // not a single try. A failure to be retried leaves a done job done (its fingerprints stay in
    // use) and makes a failed one pending: failed so far, due for a retry.
    private readonly string _markFailed = $"""
        UPDATE fingerprint_jobs
        SET status = CASE WHEN @final THEN 'failed' WHEN status = 'failed' THEN 'pending' ELSE status END,
            attempts = CASE WHEN @final THEN 0 ELSE attempts END,
            error = @error, due_at = {database.NowMilliseconds} + @waitMs, lease_owner = NULL, lease_until = NULL
        WHERE claim_id = @claimId AND url = @url AND lease_owner = @owner
        """;

    // A postponed job was not tried: the try its taking counted is given back.
    private readonly string _postpone = $"""
        UPDATE fingerprint_jobs
        SET attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,
            due_at = {database.NowMilliseconds} + @waitMs, lease_owner = NULL, lease_until = NULL
        WHERE claim_id = @claimId AND url = @url AND lease_owner = @owner
        """;

    private const string DeleteLeasedJobOfRevokedClaim = """
        DELETE FROM fingerprint_jobs
        WHERE claim_id = @claimId AND url = @url AND lease_owner = @owner
          AND EXISTS (SELECT 1 FROM claims c WHERE c.id = @claimId AND c.revoked_seq IS NOT NULL)
        """;

    // Rows a worker is writing a result for are passed by (PostgreSQL: SKIP LOCKED), so that this
    // pass and a result write never wait on each other. The result write checks the claim's
    // revocation itself and drops the job, and so do a failure's and a postponement's; a job
    // passed by all the same (its write read the claim before the revocation committed) stays,
    // inert: taking passes over the jobs of revoked claims (its claim's matches are revoked in
    // every case). One statement deletes @limit rows at most: a stretch's revocations may name
    // claims of 10,000 URLs each, and on SQLite each transaction holds the one write lock.
    private readonly string _dropRevokedJobs = $"""
        DELETE FROM fingerprint_jobs WHERE (claim_id, url) IN (
            SELECT claim_id, url FROM fingerprint_jobs
            WHERE claim_id IN (SELECT claim_id FROM revocations WHERE seq > @after AND seq <= @upTo)
            LIMIT @limit{database.TakeRows})
        """;

    private const string SelectQueue = "SELECT enqueued_seq FROM fingerprint_queue WHERE id = 1";

    private long _takes;

    private readonly string _selectQueueForUpdate = $"{SelectQueue}{database.LockRows}";

    // The outer condition is checked again on each row taken: under PostgreSQL's READ COMMITTED a
    // row leased by another worker between the inner SELECT and the UPDATE is left alone. The
    // jobs of revoked claims are never taken, whether or not the revocation pass has dropped
    // them yet (one probe of claims' unique id per due job; the claims rows are not locked).
    // A take looks at the first @examine due jobs (a bounded read, whatever the backlog: it holds
    // SQLite's write lock), passes over those of the hosts the worker is already busy with (@busy)
    // and takes at most @perHost of any other host: a claim of thousands of URLs on one slow host
    // would otherwise fill every slot of the worker with jobs waiting for that host's turn, and
    // hold up every other host's images for hours. Only the rows taken are locked (PostgreSQL).
    // Every time is the store's (RegistryDatabase.NowMilliseconds), so workers agree on when a
    // lease has passed whatever their own clocks say. Taking a job counts its try, before the
    // fetch: an image that crashes its worker (or gets it killed for its memory) records no
    // failure, and would otherwise be taken over after each lease for ever. A job still leased
    // when taken (SET reads the row as it was) is one whose worker stopped without a result,
    // and says so until its try ends.
    private readonly string _take = $"""
        UPDATE fingerprint_jobs
        SET lease_owner = @owner, lease_until = {database.NowMilliseconds} + @leaseMs, attempts = attempts + 1,
            error = CASE WHEN lease_owner IS NOT NULL THEN @interrupted ELSE error END
        WHERE (claim_id, url) IN (
            SELECT t.claim_id, t.url FROM fingerprint_jobs t
            WHERE (t.claim_id, t.url) IN (
                SELECT r.claim_id, r.url FROM (
                    SELECT s.claim_id, s.url, s.due_at, s.claim_seq,
                           ROW_NUMBER() OVER (PARTITION BY {HostSql(database, "s.url")} ORDER BY s.due_at, s.claim_seq) AS nth
                    FROM (
                        SELECT j.claim_id, j.url, j.due_at, j.claim_seq FROM fingerprint_jobs j
                        WHERE j.due_at <= {database.NowMilliseconds} AND (j.lease_until IS NULL OR j.lease_until < {database.NowMilliseconds})
                        ORDER BY j.due_at, j.claim_seq
                        LIMIT @examine) s
                    WHERE NOT ({HostSql(database, "s.url")} {database.InList("@busy")})
                      AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.id = s.claim_id AND c.revoked_seq IS NOT NULL)) r
                WHERE r.nth <= @perHost
                ORDER BY r.due_at, r.claim_seq
                LIMIT @limit){database.TakeRows})
          AND due_at <= {database.NowMilliseconds} AND (lease_until IS NULL OR lease_until < {database.NowMilliseconds})
        RETURNING claim_id, url, attempts, status, sha256, model, lease_owner
        """;

    /// <summary>
    /// Turns the next stretch of the log into jobs: the url subjects of its unrevoked claims, and
    /// drops the jobs of claims it revokes, the subjects of both counting toward about
    /// <see cref="EnqueueSubjectsPerPass"/>. Returns the jobs inserted (rows already queued, by a
    /// pass cut short or another instance's, not counted) and whether the queue has caught up with
    /// the log.
    /// </summary>
    /// <remarks>
    /// The jobs go in, and the revoked claims' jobs go out, by <see cref="InsertRowsPerStatement"/>
    /// rows a transaction, and only the last, short one advances the queue's mark: on SQLite each
    /// write transaction holds the one write lock, and a pass of 10,000 jobs in one took about a
    /// second from the log's writer (an artist's claim waited behind it; docs/benchmarks.md, abuse
    /// resistance). A pass cut short leaves jobs ahead of the mark, which the next pass inserts
    /// again as no-ops (ON CONFLICT DO NOTHING), or revoked claims' jobs already dropped, which it
    /// finds gone; a pass that finds the mark moved by another instance's pass stops there (each
    /// transaction checks it, holding the queue's row).
    /// </remarks>
    public async Task<(int Added, bool CaughtUp)> EnqueueAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        if (await connection.ExecuteScalarAsync<int>(Command(SelectAnythingToEnqueue, null, null, cancellationToken)) == 0)
        {
            return (0, true);
        }

        var after = await connection.ExecuteScalarAsync<long>(Command(SelectQueue, null, null, cancellationToken));
        var last = await connection.ExecuteScalarAsync<long>(Command(SelectLastSeq, null, null, cancellationToken));
        if (last <= after)
        {
            return (0, true);
        }

        var upTo = await StretchEndAsync(connection, after, last, cancellationToken);
        var jobs = new List<(string ClaimId, string Url, long Seq)>();
        var claims = await connection.QueryAsync<(long Seq, string Id, string Subjects)>(
            Command(SelectClaimSubjects, new { after, upTo }, null, cancellationToken));
        foreach (var (seq, id, packed) in claims)
        {
            foreach (var line in packed.AsSpan().EnumerateLines())
            {
                if (StoredSubjects.TryReadLine(line, out var kind, out var value, out _) && kind == SubjectKinds.Url)
                {
                    jobs.Add((id, value.ToString(), seq));
                }
            }
        }

        var added = 0;
        foreach (var chunk in jobs.Chunk(InsertRowsPerStatement))
        {
            // Each insert holds the queue's row and checks the mark: once another pass has moved it
            // (with these same jobs), this one stops, so it cannot bring back the jobs of a claim
            // a later pass dropped for its revocation.
            await using var insert = await database.BeginWriteAsync(connection, cancellationToken);
            if (!await MarkIsAsync(connection, insert, after, cancellationToken))
            {
                return (added, false);
            }

            added += await InsertJobsAsync(connection, insert, chunk, cancellationToken);
            await insert.CommitAsync(cancellationToken);
        }

        // A revoked claim's jobs are never needed again, so dropping them ahead of the mark is safe
        // whichever pass does it; a chunk short of the limit has dropped all there were (on
        // PostgreSQL, all but rows a result write holds, which it drops itself).
        int dropped;
        do
        {
            await using var drop = await database.BeginWriteAsync(connection, cancellationToken);
            if (!await MarkIsAsync(connection, drop, after, cancellationToken))
            {
                return (added, false);
            }

            dropped = await connection.ExecuteAsync(
                Command(_dropRevokedJobs, new { after, upTo, limit = InsertRowsPerStatement }, drop, cancellationToken));
            await drop.CommitAsync(cancellationToken);
        }
        while (dropped == InsertRowsPerStatement);

        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        if (!await MarkIsAsync(connection, transaction, after, cancellationToken))
        {
            return (added, false); // another pass got there first, with the same jobs
        }

        await connection.ExecuteAsync(Command(AdvanceQueue, new { upTo }, transaction, cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return (added, upTo == last);
    }

    private async Task<bool> MarkIsAsync(DbConnection connection, DbTransaction transaction, long after, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<long>(Command(_selectQueueForUpdate, null, transaction, cancellationToken)) == after;

    /// <summary>
    /// The last seq of the stretch after <paramref name="after"/> one pass takes: claims to enqueue
    /// and revocations to drop the jobs of, of about <see cref="EnqueueSubjectsPerPass"/> subjects
    /// together (one entry at least). A revocation counts its claim's subjects: counting claims
    /// alone let one pass drop the jobs of any number of revoked claims in one go.
    /// </summary>
    private static async Task<long> StretchEndAsync(DbConnection connection, long after, long last, CancellationToken cancellationToken)
    {
        var args = new { after, last, limit = EnqueueEntriesPerPass };
        var claims = (await connection.QueryAsync<(long Seq, long Subjects)>(Command(SelectClaimSizes, args, null, cancellationToken))).AsList();
        var revocations = (await connection.QueryAsync<(long Seq, long Subjects)>(Command(SelectRevocationSizes, args, null, cancellationToken))).AsList();

        // A list cut at the limit is complete only up to its last seq.
        var end = last;
        foreach (var list in (List<(long Seq, long Subjects)>[])[claims, revocations])
        {
            if (list.Count == EnqueueEntriesPerPass)
            {
                end = Math.Min(end, list[^1].Seq);
            }
        }

        var sizes = claims.Concat(revocations).Where(e => e.Seq <= end).OrderBy(e => e.Seq).ToList();
        long subjects = 0;
        for (var i = 0; i < sizes.Count; i++)
        {
            subjects += sizes[i].Subjects;
            if (i > 0 && subjects > EnqueueSubjectsPerPass)
            {
                return sizes[i - 1].Seq;
            }
        }

        return end;
    }

    /// <summary>
    /// The due jobs a take looks at, oldest first, to choose from: within them no host gets more
    /// than its share, so that other hosts' jobs come forward. A host with more due jobs than this
    /// ahead of every other host's still holds those up (but only its share of the slots).
    /// </summary>
    private const int TakeExamineRows = 4096;

    /// <summary>
    /// The host of a job's URL as the worker shares its slots by it: the authority of a canonical
    /// URL (no userinfo; a path that starts with '/') without its port, an IPv6 literal with its
    /// brackets. What <see cref="HostSql"/> computes in SQL, character for character.
    /// </summary>
    public static string HostOf(string url)
    {
        var rest = url.AsSpan(Math.Min(url.Length, url.IndexOf("://", StringComparison.Ordinal) + 3));
        var slash = rest.IndexOf('/');
        var authority = slash < 0 ? rest : rest[..slash];
        var end = authority is ['[', ..] ? authority.IndexOf(']') + 1 : authority.IndexOf(':') is var colon and >= 0 ? colon : authority.Length;
        return authority[..end].ToString();
    }

    /// <summary><see cref="HostOf"/> of the URL in <paramref name="column"/>, as a SQL expression of either engine.</summary>
    private static string HostSql(RegistryDatabase database, string column)
    {
        var rest = $"substr({column}, {database.Position(column, "'://'")} + 3)";
        var authority = $"substr({rest}, 1, {database.Position($"{rest} || '/'", "'/'")} - 1)";
        return $"""
            CASE WHEN substr({authority}, 1, 1) = '[' THEN substr({authority}, 1, {database.Position(authority, "']'")})
                 ELSE substr({authority}, 1, {database.Position($"{authority} || ':'", "':'")} - 1) END
            """;
    }

    /// <summary>The error a job shows once taken over from a worker that held it until its lease passed.</summary>
    public const string InterruptedError = $"{FetchErrors.Interrupted}: The worker that took it stopped before its try ended.";

    /// <summary>
    /// Takes up to <paramref name="limit"/> due jobs for <paramref name="owner"/>, leased for
    /// <paramref name="lease"/> from now on the store's clock, under a lease of this take's own
    /// (<see cref="FingerprintJob.LeaseOwner"/>: the owner and a take number): a worker that takes
    /// a job again after its lease passed (a store outage held its renewals up) while its first run
    /// still goes on cannot have that run's result, failure or postponement count for the new one. Each job's try is counted here
    /// (<see cref="FingerprintJob.Attempts"/> includes it), whether or not a result is ever recorded.
    /// </summary>
    public Task<IReadOnlyList<FingerprintJob>> TakeAsync(string owner, int limit, TimeSpan lease, CancellationToken cancellationToken) =>
        TakeAsync(owner, limit, lease, [], limit, cancellationToken);

    /// <summary>
    /// Takes as <see cref="TakeAsync(string, int, TimeSpan, CancellationToken)"/> does, passing over
    /// the jobs whose URLs' hosts (<see cref="HostOf"/>) are in <paramref name="busy"/>, and taking
    /// at most <paramref name="perHost"/> jobs of any other host.
    /// </summary>
    public async Task<IReadOnlyList<FingerprintJob>> TakeAsync(
        string owner, int limit, TimeSpan lease, IReadOnlyCollection<string> busy, int perHost, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        var taken = await connection.QueryAsync<FingerprintJob>(Command(_take, new
        {
            owner = $"{owner}#{Interlocked.Increment(ref _takes)}",
            limit,
            examine = TakeExamineRows,
            perHost,
            busy = busy.ToArray(),
            leaseMs = Milliseconds(lease),
            interrupted = InterruptedError,
        }, transaction, cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return taken.AsList();
    }

    /// <summary>
    /// Writes finished jobs in one transaction of the log: each new derived set gets the next seq.
    /// A job no longer under the lease it was taken with (the lease passed and another take has it)
    /// is skipped, and a job whose claim was revoked meanwhile is dropped.
    /// </summary>
    public async Task<int> CompleteAsync(IReadOnlyList<JobCompletion> completions, CancellationToken cancellationToken)
    {
        await using var append = await log.BeginAsync(cancellationToken);
        var (connection, transaction) = (append.Connection, append.Transaction);
        var seq = append.LastSeq;
        var written = 0;
        foreach (var done in completions)
        {
            var job = done.Job;

            // Checked and marked in one statement, whose row lock is held to the commit: a lease
            // read first and written after could pass to another worker in between, and the row
            // of the worker that took it over be cleared under it.
            var marked = await connection.ExecuteAsync(Command(_markDone, new
            {
                claimId = job.ClaimId,
                url = job.Url,
                owner = job.LeaseOwner,
                fetchedAt = done.FetchedAt.ToUnixTimeSeconds(),
                sha256 = done.Sha256,
                pdq = done.Pdq,
                quality = done.Quality,
                model = done.Model,
                waitMs = Milliseconds(done.RefetchAfter),
            }, transaction, cancellationToken));
            if (marked == 0)
            {
                continue; // no longer this take's: its lease passed and another take has it
            }

            if (await connection.ExecuteScalarAsync<long?>(Command(SelectRevoked, job, transaction, cancellationToken)) is not null)
            {
                await connection.ExecuteAsync(Command(DeleteJob, job, transaction, cancellationToken));
                continue;
            }

            // A re-fetch that found the bytes of the last success, fingerprinted by the same model,
            // adds nothing to the log: that success's set is still in use, failures since or not.
            if (job.Sha256 is null || job.Sha256 != done.Sha256 || job.Model != done.Model)
            {
                await connection.ExecuteAsync(Command(InsertDerived, new
                {
                    seq = ++seq,
                    claimId = job.ClaimId,
                    url = job.Url,
                    subjects = StoredSubjects.Encode(done.Subjects),
                    fetchedAt = done.FetchedAt.ToUnixTimeSeconds(),
                }, transaction, cancellationToken));
            }

            written++;
        }

        await append.CommitAsync(seq, cancellationToken);
        return written;
    }

    /// <summary>
    /// Records a failed try (counted when the job was taken): retried <paramref name="retryIn"/> from
    /// now; when <paramref name="final"/>, shown as failed and its tries counted from zero again for
    /// the re-fetch then.
    /// </summary>
    /// <remarks>A job whose claim has been revoked meanwhile is dropped instead.</remarks>
    public Task FailAsync(FingerprintJob job, string error, bool final, TimeSpan retryIn, CancellationToken cancellationToken) =>
        ReleaseAsync(_markFailed, new { claimId = job.ClaimId, url = job.Url, owner = job.LeaseOwner, error, final, waitMs = Milliseconds(retryIn) }, cancellationToken);

    /// <summary>Gives a job back untried (its try not counted), due <paramref name="wait"/> from now (its host asked the fetcher to wait); a job whose claim has been revoked meanwhile is dropped instead.</summary>
    public Task PostponeAsync(FingerprintJob job, TimeSpan wait, CancellationToken cancellationToken) =>
        ReleaseAsync(_postpone, new { claimId = job.ClaimId, url = job.Url, owner = job.LeaseOwner, waitMs = Milliseconds(wait) }, cancellationToken);

    /// <summary>
    /// Extends to <paramref name="lease"/> from now the leases of those of <paramref name="jobs"/> still
    /// under the lease they were taken with (a job finished, given back or taken again is left alone).
    /// </summary>
    public async Task RenewAsync(IReadOnlyList<FingerprintJob> jobs, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        foreach (var chunk in jobs.Chunk(InsertRowsPerStatement))
        {
            var args = new DynamicParameters();
            var rows = new string[chunk.Length];
            for (var i = 0; i < chunk.Length; i++)
            {
                rows[i] = $"(@c{i}, @u{i}, @o{i})";
                args.Add($"c{i}", chunk[i].ClaimId);
                args.Add($"u{i}", chunk[i].Url);
                args.Add($"o{i}", chunk[i].LeaseOwner);
            }

            args.Add("leaseMs", Milliseconds(lease));
            var sql = $"UPDATE fingerprint_jobs SET lease_until = {database.NowMilliseconds} + @leaseMs WHERE (claim_id, url, lease_owner) IN (VALUES {string.Join(", ", rows)})";
            await connection.ExecuteAsync(Command(sql, args, null, cancellationToken));
        }
    }

    /// <summary>The jobs of one claim, as the fingerprints endpoint shows them.</summary>
    public async Task<IReadOnlyList<FingerprintJobRow>> ListAsync(string claimId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<FingerprintJobRow>(Command(SelectJobs, new { claimId }, null, cancellationToken))).AsList();
    }

    /// <summary>Hands a leased job back with <paramref name="sql"/>, or drops it when its claim has been revoked (the revocation pass may have passed it by).</summary>
    private async Task ReleaseAsync(string sql, object args, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await database.BeginWriteAsync(connection, cancellationToken);
        if (await connection.ExecuteAsync(Command(DeleteLeasedJobOfRevokedClaim, args, transaction, cancellationToken)) == 0)
        {
            await connection.ExecuteAsync(Command(sql, args, transaction, cancellationToken));
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Inserts <paramref name="jobs"/> and returns how many were new (ON CONFLICT DO NOTHING passes the rest by).</summary>
    private async Task<int> InsertJobsAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<(string ClaimId, string Url, long Seq)> jobs, CancellationToken cancellationToken)
    {
        // Multi-row INSERTs: one statement per 500 jobs on both engines (a 10,000-url claim is 20 round trips, not 10,000).
        var inserted = 0;
        foreach (var chunk in jobs.Chunk(InsertRowsPerStatement))
        {
            var args = new DynamicParameters();
            var rows = new string[chunk.Length];
            for (var i = 0; i < chunk.Length; i++)
            {
                rows[i] = $"(@c{i}, @u{i}, @s{i}, {database.NowMilliseconds})";
                args.Add($"c{i}", chunk[i].ClaimId);
                args.Add($"u{i}", chunk[i].Url);
                args.Add($"s{i}", chunk[i].Seq);
            }

            var sql = $"INSERT INTO fingerprint_jobs (claim_id, url, claim_seq, due_at) VALUES {string.Join(", ", rows)} ON CONFLICT DO NOTHING";
            inserted += await connection.ExecuteAsync(Command(sql, args, transaction, cancellationToken));
        }

        return inserted;
    }

    /// <summary>A wait in whole milliseconds, never below zero (a pause already over is due now).</summary>
    private static long Milliseconds(TimeSpan wait) => Math.Max(0, (long)wait.TotalMilliseconds);

    private static CommandDefinition Command(string sql, object? args, DbTransaction? transaction, CancellationToken cancellationToken) =>
        new(sql, args, transaction, cancellationToken: cancellationToken);
}

public static class JobStatus
{
    public const string Pending = "pending";
    public const string Done = "done";
    public const string Failed = "failed";
}

/// <summary>A job as a worker takes it: what to fetch, and what the last success found (to tell whether a re-fetch changed anything).</summary>
public sealed record FingerprintJob
{
    public required string ClaimId { get; init; }
    public required string Url { get; init; }

    /// <summary>Tries since the last success or final failure, this one included (counted as the job is taken).</summary>
    public int Attempts { get; init; }
    public string Status { get; init; } = JobStatus.Pending;
    public string? Sha256 { get; init; }
    public string? Model { get; init; }

    /// <summary>The lease this take holds the job under: the worker's name and the take's number.</summary>
    public string? LeaseOwner { get; init; }
}

/// <summary>A job's fingerprints, as the worker hands them to <see cref="FingerprintJobStore.CompleteAsync"/>.</summary>
public sealed record JobCompletion(
    FingerprintJob Job, IReadOnlyList<Subject> Subjects, string Sha256, string Pdq, int Quality, string? Model, DateTimeOffset FetchedAt, TimeSpan RefetchAfter);

/// <summary>One row of <c>fingerprint_jobs</c>, as <c>GET /v1/claims/{id}/fingerprints</c> shows it.</summary>
public sealed record FingerprintJobRow
{
    public required string Url { get; init; }
    public required string Status { get; init; }
    public string? Error { get; init; }
    public long? FetchedAt { get; init; }
    public string? Sha256 { get; init; }
    public string? Pdq { get; init; }
    public int? Quality { get; init; }
}

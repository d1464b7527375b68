using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Fingerprints;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Core.Claims;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace ConsentRegistry.Api.Tests.Fingerprints;

/// <summary>
/// Several workers on one queue (DESIGN.md 3: workers scale out on the store's job queue): no job
/// runs twice at once, and the jobs of a worker that died are taken over when their leases pass.
/// </summary>
public sealed class WorkerLeaseTests : IAsyncLifetime
{
    private ImageServer _images = null!;

    public async Task InitializeAsync() => _images = await ImageServer.StartAsync();

    public async Task DisposeAsync() => await _images.DisposeAsync();

    [Fact]
    public async Task Two_workers_sharing_one_queue_fetch_every_image_once()
    {
        var image = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        var paths = Enumerable.Range(0, 40).Select(i => $"/shared/{i}.jpg").ToArray();
        // Slow enough that neither worker can finish all forty before the other has polled a few
        // times, however the machine schedules them.
        ServeSlowly(paths, image);

        // A fetch that times out is tried again: a second request, but no job taken twice. Under the
        // whole suite's load on two cores two images were once requested twice (its log was not
        // kept); a fetch held past the 10 s default by a busy machine would do that, so this test
        // allows a minute, and says what the workers logged if it fails again.
        var settings = new Dictionary<string, string?>(WorkerFixture.Settings) { ["Registry:Fetch:PerHostConcurrency"] = "16", ["Registry:Fetch:Timeout"] = "00:01:00" };
        await using var database = await TestDatabase.CreateAsync();
        await using var first = new RegistryApp(database, settings);
        await using var second = new RegistryApp(database, settings);
        await StartBothAsync(first, second);
        using var firstJobs = JobOutcomes(first);
        using var secondJobs = JobOutcomes(second);
        using var client = first.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.Sign(TestSigner.Claim(paths.Select(p => TestSigner.Url(_images.Url(p))), new JsonObject { ["train-ai"] = "n" })));

        var items = await client.SettledFingerprintsAsync(claim);

        Assert.All(items, item => Assert.Equal("done", item.GetProperty("status").GetString()));
        var failed = firstJobs.GetMeasurementSnapshot().Concat(secondJobs.GetMeasurementSnapshot())
            .Select(m => $"{m.Tags["outcome"]}").Where(outcome => outcome != "derived").ToList();
        var warnings = string.Join(" | ", first.Logs.Concat(second.Logs).Where(line => line.StartsWith("Warning", StringComparison.Ordinal)));

        // Every request is one try: the first of each job, and one more for each try that failed and
        // was retried (under CI's load, decodes that waited past the gate's 10 s were retried as
        // "busy"). A job run by both workers at once would be a request beyond that count.
        var requests = paths.Sum(_images.RequestsFor);
        Assert.True(requests <= paths.Length + failed.Count,
            $"{requests} requests for {paths.Length} images and {failed.Count} failed tries [{string.Join(", ", failed)}]; the workers' warnings: {warnings}");
        Assert.All(paths, path => Assert.True(_images.RequestsFor(path) >= 1, $"{path} was never requested"));
        Assert.Equal(paths.Length, await database.CountAsync("SELECT COUNT(*) FROM derived_fingerprints"));

        // A worker counts what it wrote once the commit has returned, a moment after a client can see it.
        await Eventually.HoldsAsync(() => Derived(first) + Derived(second) >= paths.Length, "both workers have counted what they wrote");
        var (byFirst, bySecond) = (Derived(first), Derived(second));
        Assert.True(byFirst > 0 && bySecond > 0, $"Both workers take jobs: {byFirst} and {bySecond}.");
        Assert.Equal(paths.Length, byFirst + bySecond);
    }

    [Fact]
    public async Task Two_workers_sharing_one_queue_run_every_aligned_verification_once()
    {
        // Twelve checks between two claims, each naming two pictures of its own (the worker fetches what a
        // check names): a check run by both workers would fetch its pictures twice.
        var image = TestImages.ReadPdqData("reg-test-input/labelme-subset/q1050.jpg");
        var paths = Enumerable.Range(0, 12).SelectMany(i => new[] { $"/checked/{i}-a.jpg", $"/checked/{i}-b.jpg" }).ToArray();
        ServeSlowly([.. paths, "/claimed/a.jpg", "/claimed/b.jpg"], image);

        var settings = new Dictionary<string, string?>(WorkerFixture.Settings) { ["Registry:Fetch:PerHostConcurrency"] = "16", ["Registry:Fetch:Timeout"] = "00:01:00" };
        await using var database = await TestDatabase.CreateAsync();
        await using var first = new RegistryApp(database, settings);
        await using var second = new RegistryApp(database, settings);
        await StartBothAsync(first, second);
        using var firstChecks = CheckOutcomes(first);
        using var secondChecks = CheckOutcomes(second);
        using var client = first.CreateClient();
        using var artist = new TestSigner();
        using var other = new TestSigner();
        var a = await client.ClaimAsync(artist.OptOut(_images.Url("/claimed/a.jpg")));
        var b = await client.ClaimAsync(other.OptOut(_images.Url("/claimed/b.jpg")));
        await client.SettledFingerprintsAsync(a);
        await client.SettledFingerprintsAsync(b);
        var (claimA, claimB) = string.CompareOrdinal(a, b) < 0 ? (a, b) : (b, a);
        for (var i = 0; i < 12; i++)
        {
            await database.ExecuteAsync("""
                INSERT INTO near_duplicate_checks (claim_a, url_a, claim_b, url_b, similarity, conflict, due_at, found_seq)
                VALUES (@claimA, @urlA, @claimB, @urlB, 0.9, 0, 0, 1)
                """, new { claimA, urlA = _images.Url($"/checked/{i}-a.jpg"), claimB, urlB = _images.Url($"/checked/{i}-b.jpg") });
        }

        await Eventually.HoldsAsync(async () => await database.CountAsync("SELECT COUNT(*) FROM near_duplicate_checks WHERE status = 'done'") == 12,
            "every check is done");
        var outcomes = firstChecks.GetMeasurementSnapshot().Concat(secondChecks.GetMeasurementSnapshot()).Select(m => $"{m.Tags["outcome"]}").ToList();
        var failed = outcomes.Count(o => o is not ("copy" or "different"));
        var requests = paths.Sum(_images.RequestsFor);
        Assert.True(requests <= paths.Length + 2 * failed, $"{requests} requests for {paths.Length} pictures and {failed} failed tries [{string.Join(", ", outcomes)}]");
        Assert.All(paths, path => Assert.True(_images.RequestsFor(path) >= 1, $"{path} was never requested"));

        // The same picture under every name: each check finds a copy, and the two claims are one pair.
        Assert.Equal(12, await database.CountAsync("SELECT COUNT(*) FROM near_duplicate_checks WHERE is_copy = 1"));
        Assert.Equal(1, await database.CountAsync("SELECT COUNT(*) FROM near_duplicate_pairs WHERE match_kind = 'aligned'"));
        await Eventually.HoldsAsync(() => Compared(first) + Compared(second) >= 12, "both workers have counted what they wrote");
        Assert.Equal(12, Compared(first) + Compared(second));
        Assert.True(Compared(first) > 0 && Compared(second) > 0, $"Both workers take checks: {Compared(first)} and {Compared(second)}.");
    }

    /// <summary>Serves the JPEG at each path after a quarter of a second.</summary>
    private void ServeSlowly(IEnumerable<string> paths, byte[] image)
    {
        foreach (var path in paths)
        {
            _images.Paths[path] = async context =>
            {
                await Task.Delay(250);
                context.Response.ContentType = "image/jpeg";
                await context.Response.Body.WriteAsync(image);
            };
        }
    }

    /// <summary>Each aligned verification a worker finishes, by outcome ("copy", "different", or the code of a failed try).</summary>
    private static MetricCollector<long> CheckOutcomes(RegistryApp app) =>
        new(app.Services.GetRequiredService<IMeterFactory>(), RegistryMetrics.MeterName, "registry.worker.aligned.checks");

    private static long Compared(RegistryApp app) => app.Services.GetRequiredService<AlignedVerificationWorker>().Progress.Compared;

    /// <summary>Each job a worker finishes, by outcome ("derived", or the code of a failed try).</summary>
    private static MetricCollector<long> JobOutcomes(RegistryApp app) =>
        new(app.Services.GetRequiredService<IMeterFactory>(), RegistryMetrics.MeterName, "registry.worker.jobs");

    [Fact]
    public async Task A_job_that_runs_longer_than_its_lease_stays_its_workers_and_is_fetched_once()
    {
        var (arrived, release) = HoldFirstRequest("/long.jpg"); // the first fetch outlasts the lease it was taken with
        var settings = new Dictionary<string, string?>(WorkerFixture.Settings)
        {
            ["Registry:Worker:Lease"] = "00:00:06",
            ["Registry:Fetch:Timeout"] = "00:00:50",
        };
        await using var database = await TestDatabase.CreateAsync();
        await using var first = new RegistryApp(database, settings);
        await using var second = new RegistryApp(database, settings);
        await StartBothAsync(first, second);
        using var client = first.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.OptOut(_images.Url("/long.jpg")));

        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var takenUntil = await database.CountAsync("SELECT lease_until FROM fingerprint_jobs WHERE claim_id = @claim", new { claim });
        await Eventually.HoldsAsync(
            () => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() > takenUntil + 3000,
            "the lease the job was taken with has passed");
        release.SetResult();

        var item = Assert.Single(await client.SettledFingerprintsAsync(claim));
        Assert.Equal("done", item.GetProperty("status").GetString());
        Assert.Equal(1, _images.RequestsFor("/long.jpg"));
        Assert.Equal(1, await database.CountAsync("SELECT COUNT(*) FROM derived_fingerprints WHERE claim_id = @claim", new { claim }));
    }

    /// <summary>
    /// A worker stopped mid-fetch (a restart, a rolling deploy) gives the job back untried: no try is
    /// counted against it and no lease is left to wait out; the next worker fetches it at once.
    /// </summary>
    [Fact]
    public async Task A_worker_stopped_mid_fetch_gives_the_job_back_untried()
    {
        await using var database = await TestDatabase.CreateAsync();
        var (stopping, claim, release) = await StartWithFetchHeldAsync(database, "/stopped.jpg");

        // As the host stops it (a SIGTERM, a deploy): the worker's stop waits for its work to end.
        await stopping.Services.GetRequiredService<FingerprintWorker>().StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        var logs = WorkerLogs(stopping);
        await stopping.DisposeAsync();
        release.SetResult();

        Assert.True(await GivenBackAsync(database, claim), "not given back: " + logs);
        Assert.Contains("stopping with 1 jobs under way (1 cut off)", logs);
        await using var successor = new RegistryApp(database, new Dictionary<string, string?>(WorkerFixture.Settings));
        successor.StartServer();
        using var successorClient = successor.CreateClient();
        var item = Assert.Single(await successorClient.SettledFingerprintsAsync(claim));
        Assert.Equal("done", item.GetProperty("status").GetString());
        Assert.Equal(2, _images.RequestsFor("/stopped.jpg"));
    }

    /// <summary>
    /// The hand-back waits for a busy store as long as the host waits for the worker: another writer
    /// holds the job's row (PostgreSQL) or the store's write lock (SQLite) for eight seconds as the
    /// worker stops, and the job is still given back untried, not left to its lease. A fixed
    /// five-second grace gave up on it.
    /// </summary>
    [Fact]
    public async Task A_worker_stopped_while_another_writer_holds_the_store_for_eight_seconds_still_gives_its_job_back()
    {
        await using var database = await TestDatabase.CreateAsync();
        var (stopping, claim, release) = await StartWithFetchHeldAsync(database, "/held-store.jpg");

        Task stopped;
        await using (var holder = await database.OpenAsync())
        {
            await using var transaction = await holder.BeginTransactionAsync();
            await holder.ExecuteAsync(
                database.Provider == "sqlite"
                    ? "UPDATE fingerprint_jobs SET due_at = due_at WHERE claim_id = @claim" // a write: SQLite's write lock, held to the commit
                    : "SELECT 1 FROM fingerprint_jobs WHERE claim_id = @claim FOR UPDATE",
                new { claim }, transaction);
            stopped = stopping.Services.GetRequiredService<FingerprintWorker>().StopAsync(CancellationToken.None);
            await Task.Delay(TimeSpan.FromSeconds(8));
            await transaction.CommitAsync();
        }

        await stopped.WaitAsync(TimeSpan.FromSeconds(60));
        var logs = WorkerLogs(stopping);
        await stopping.DisposeAsync();
        release.SetResult();

        Assert.True(await GivenBackAsync(database, claim), "not given back: " + logs);
        Assert.Contains("gave back 1 jobs under way", logs);
    }

    /// <summary>A registry whose worker is fetching the one image of a claim at <paramref name="path"/>, the request held until <c>Release</c> is set.</summary>
    private async Task<(RegistryApp App, string Claim, TaskCompletionSource Release)> StartWithFetchHeldAsync(TestDatabase database, string path)
    {
        var (arrived, release) = HoldFirstRequest(path);
        var app = new RegistryApp(database, new Dictionary<string, string?>(WorkerFixture.Settings));
        app.StartServer();
        await app.WaitUntilReadyAsync();
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.OptOut(_images.Url(path)));
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return (app, claim, release);
    }

    /// <summary>Whether the claim's one job is back in the queue untried: pending, no try counted, no lease.</summary>
    private static async Task<bool> GivenBackAsync(TestDatabase database, string claim) => await database.CountAsync(
        "SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim AND attempts = 0 AND lease_owner IS NULL AND status = 'pending'", new { claim }) == 1;

    /// <summary>The worker's own log lines, each on one line (a failure's message is read from a log's tail).</summary>
    private static string WorkerLogs(RegistryApp app) => string.Join(" | ", app.Logs
        .Where(line => line.Contains("FingerprintWorker:", StringComparison.Ordinal))
        .Select(line => line.ReplaceLineEndings(" ")));

    /// <summary>
    /// Leases are compared on the store's clock (RegistryDatabase.NowMilliseconds), not the worker's:
    /// a job leased for ten more minutes by the store's clock is left alone by a worker whose own
    /// clock (its TimeProvider) runs an hour ahead, by which that lease passed fifty minutes ago.
    /// A later job, due and free, shows the skewed worker polls and takes jobs meanwhile: the
    /// leased one is older, so it would have been taken first, or with it.
    /// </summary>
    [Fact]
    public async Task A_worker_whose_clock_runs_an_hour_ahead_leaves_a_lease_live_by_the_stores_clock_alone()
    {
        var image = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        foreach (var path in new[] { "/skewed.jpg", "/after-skewed.jpg" })
        {
            _images.Serve(path, image);
        }

        await using var database = await TestDatabase.CreateAsync();
        await using var api = new RegistryApp(database); // the worker is off here: the test plays the worker that holds the lease
        api.StartServer();
        await api.WaitUntilReadyAsync();
        using var client = api.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.OptOut(_images.Url("/skewed.jpg")));
        var store = api.Services.GetRequiredService<FingerprintJobStore>();
        Assert.True((await store.EnqueueAsync(default)).CaughtUp);
        var held = Assert.Single(await store.TakeAsync("a-worker-elsewhere", 1, TimeSpan.FromMinutes(10), default));
        Assert.Equal(claim, held.ClaimId);
        var leaseUntil = await database.CountAsync("SELECT lease_until FROM fingerprint_jobs WHERE claim_id = @claim", new { claim });
        await database.ExecuteAsync("UPDATE fingerprint_jobs SET due_at = 0 WHERE claim_id = @claim", new { claim }); // due, and first in line
        var laterClaim = await client.ClaimAsync(artist.OptOut(_images.Url("/after-skewed.jpg")));

        await using var ahead = new RegistryApp(database, new Dictionary<string, string?>(WorkerFixture.Settings),
            services => services.AddSingleton<TimeProvider>(new ClockAhead(TimeSpan.FromHours(1))));
        ahead.StartServer();
        Assert.IsType<ClockAhead>(ahead.Services.GetRequiredService<TimeProvider>());
        Assert.True(ahead.Services.GetRequiredService<TimeProvider>().GetUtcNow().ToUnixTimeMilliseconds() > leaseUntil + (long)TimeSpan.FromMinutes(45).TotalMilliseconds,
            "By the skewed worker's own clock the lease has long passed.");

        var later = Assert.Single(await client.SettledFingerprintsAsync(laterClaim));

        Assert.Equal(0, _images.RequestsFor("/skewed.jpg"));
        Assert.Equal(1, await database.CountAsync(
            "SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim AND lease_owner = @lease AND lease_until = @leaseUntil AND attempts = 1",
            new { claim, leaseUntil, lease = held.LeaseOwner }));
        Assert.Equal("pending", Assert.Single(await client.FingerprintsAsync(claim)).GetProperty("status").GetString());
        Assert.True(later.GetProperty("status").GetString() == "done", $"The skewed worker's own job: {later}");
        Assert.Equal(1, _images.RequestsFor("/after-skewed.jpg"));
    }

    /// <summary>
    /// Serves an image at <paramref name="path"/> whose first request is held until <c>release</c> is
    /// set (<c>arrived</c> says it came); later requests are answered at once.
    /// </summary>
    private (TaskCompletionSource Arrived, TaskCompletionSource Release) HoldFirstRequest(string path)
    {
        var image = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _images.Paths[path] = async context =>
        {
            if (arrived.TrySetResult())
            {
                await release.Task;
            }

            context.Response.ContentType = "image/jpeg";
            await context.Response.Body.WriteAsync(image);
        };
        return (arrived, release);
    }

    /// <summary>A machine clock set wrong: the time is <paramref name="ahead"/> later than it is.</summary>
    private sealed class ClockAhead(TimeSpan ahead) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + ahead;
    }

    private static long Derived(RegistryApp app) => app.Services.GetRequiredService<FingerprintWorker>().Progress.Derived;

    [Fact]
    public async Task The_job_of_a_worker_process_killed_mid_fetch_is_taken_over_once_its_lease_passes()
    {
        var image = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var requests = 0;
        long takenOverAt = 0;
        _images.Paths["/held.jpg"] = async context =>
        {
            if (Interlocked.Increment(ref requests) == 1)
            {
                first.SetResult();
                await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            }

            Interlocked.CompareExchange(ref takenOverAt, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 0);
            context.Response.ContentType = "image/jpeg";
            await context.Response.Body.WriteAsync(image);
        };
        await using var database = await TestDatabase.CreateAsync();
        await using var api = new RegistryApp(database); // the worker is off here: the worker process takes the job
        api.StartServer();
        await api.WaitUntilReadyAsync();
        using var client = api.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.OptOut(_images.Url("/held.jpg")));

        using (var worker = await ServiceProcess.StartAsync(database, WorkerProcessSettings, ServiceProcess.Worker))
        {
            await first.Task.WaitAsync(TimeSpan.FromSeconds(30));
            worker.Kill();
        }

        // The lease as the killed worker last wrote it (the kill waits for the process to exit, so
        // no renewal comes after this read): the store's clock, on this machine.
        Assert.Equal(1, await database.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs WHERE lease_owner IS NOT NULL"));
        var leaseUntil = await database.CountAsync("SELECT lease_until FROM fingerprint_jobs WHERE claim_id = @claim", new { claim });
        Assert.True(leaseUntil > DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), $"The lease had passed before the successor started (lease until {leaseUntil}).");
        Assert.Equal("pending", Assert.Single(await client.FingerprintsAsync(claim)).GetProperty("status").GetString());

        await using var successor = new RegistryApp(database, new Dictionary<string, string?>(WorkerFixture.Settings));
        successor.StartServer();
        var item = Assert.Single(await client.SettledFingerprintsAsync(claim));

        Assert.Equal("done", item.GetProperty("status").GetString());
        Assert.Equal(2, Volatile.Read(ref requests));
        var retriedAt = Interlocked.Read(ref takenOverAt);
        Assert.True(retriedAt >= leaseUntil, $"The successor asked for the image {leaseUntil - retriedAt} ms before the killed worker's lease passed.");
    }

    /// <summary>
    /// An image that crashes its worker (or gets it killed for its memory) records no failure. Each
    /// taking counts a try, so the crash loop ends: once the job has been taken
    /// Registry:Worker:MaxAttempts (3) times without a result, the next worker records it failed
    /// without fetching it again.
    /// </summary>
    [Fact]
    public async Task A_job_whose_lease_passes_without_a_result_max_attempts_times_ends_failed_without_another_fetch()
    {
        var image = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        _images.Paths["/poison.jpg"] = async context =>
        {
            context.Response.ContentType = "image/jpeg";
            await context.Response.Body.WriteAsync(image);
        };
        await using var database = await TestDatabase.CreateAsync();
        await using var api = new RegistryApp(database); // the worker is off here: the test plays the workers that die
        api.StartServer();
        await api.WaitUntilReadyAsync();
        using var client = api.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.OptOut(_images.Url("/poison.jpg")));
        var store = api.Services.GetRequiredService<FingerprintJobStore>();
        Assert.True((await store.EnqueueAsync(default)).CaughtUp);

        // Three workers take the job in turn and die with it: each lease passes without a result.
        for (var taking = 1; taking <= 3; taking++)
        {
            await Task.Delay(20); // past the last lease, of a millisecond
            var job = Assert.Single(await store.TakeAsync($"dying-{taking}", 1, TimeSpan.FromMilliseconds(1), default));
            Assert.Equal(taking, job.Attempts);
        }

        var interrupted = Assert.Single(await client.FingerprintsAsync(claim));
        Assert.Equal("pending", interrupted.GetProperty("status").GetString());
        Assert.StartsWith("interrupted: The worker that took it stopped", interrupted.GetProperty("error").GetString());

        await using var successor = new RegistryApp(database, new Dictionary<string, string?>(WorkerFixture.Settings));
        successor.StartServer();
        var item = Assert.Single(await client.SettledFingerprintsAsync(claim));

        Assert.Equal("failed", item.GetProperty("status").GetString());
        Assert.StartsWith("interrupted: Each of its 3 tries ended without a result", item.GetProperty("error").GetString());
        Assert.Equal(0, _images.RequestsFor("/poison.jpg"));
        Assert.Equal(0, await database.CountAsync("SELECT attempts FROM fingerprint_jobs WHERE claim_id = @claim", new { claim }));
    }

    /// <summary>
    /// A worker whose renewals a store outage held up takes one of its own jobs again once the lease
    /// passed, while the first run still goes on: that run's end (here a failure, then a result)
    /// belongs to a lease that is gone, and must neither release the new take nor be written.
    /// </summary>
    [Fact]
    public async Task A_job_taken_again_by_the_same_worker_is_held_by_the_new_take_alone()
    {
        await using var api = await RegistryApp.StartAsync(); // the worker is off here: the test plays the worker
        var database = api.Database;
        using var client = api.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.OptOut("https://taken-twice.example/picture.jpg"));
        var store = api.Services.GetRequiredService<FingerprintJobStore>();
        Assert.True((await store.EnqueueAsync(default)).CaughtUp);
        var first = Assert.Single(await store.TakeAsync("worker", 1, TimeSpan.FromMilliseconds(1), default));
        await Task.Delay(20); // past the first lease, of a millisecond
        var second = Assert.Single(await store.TakeAsync("worker", 1, TimeSpan.FromMinutes(10), default));
        Assert.NotEqual(first.LeaseOwner, second.LeaseOwner);

        await store.FailAsync(first, "timeout: The first run's fetch timed out.", final: false, TimeSpan.FromMinutes(1), default);
        await store.PostponeAsync(first, TimeSpan.FromMinutes(1), default);
        var sha256 = new string('6', 64);
        Assert.Equal(0, await store.CompleteAsync(
            [new JobCompletion(first, [new Subject(SubjectKinds.Sha256, sha256)], sha256, new string('a', 64), 100, null, DateTimeOffset.UtcNow, TimeSpan.FromDays(30))], default));

        Assert.Equal(1, await database.CountAsync(
            "SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim AND lease_owner = @lease AND attempts = 2", new { claim, lease = second.LeaseOwner }));
        Assert.Equal(1, await store.CompleteAsync(
            [new JobCompletion(second, [new Subject(SubjectKinds.Sha256, sha256)], sha256, new string('a', 64), 100, null, DateTimeOffset.UtcNow, TimeSpan.FromDays(30))], default));
        Assert.Equal("done", Assert.Single(await client.FingerprintsAsync(claim)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task After_a_final_failure_a_retried_re_fetch_shows_pending_and_the_same_image_back_adds_nothing_to_the_log()
    {
        await using var api = await RegistryApp.StartAsync(); // the worker is off here: the test plays the worker
        var database = api.Database;
        using var client = api.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.OptOut("https://flaky.example/picture.jpg"));
        var store = api.Services.GetRequiredService<FingerprintJobStore>();
        Assert.True((await store.EnqueueAsync(default)).CaughtUp);
        var sha256 = new string('5', 64);
        async Task<FingerprintJob> TakeAsync()
        {
            await database.ExecuteAsync("UPDATE fingerprint_jobs SET due_at = 0 WHERE claim_id = @claim", new { claim });
            return Assert.Single(await store.TakeAsync("worker", 1, TimeSpan.FromMinutes(1), default));
        }

        async Task SucceedAsync() => Assert.Equal(1, await store.CompleteAsync(
            [new JobCompletion(await TakeAsync(), [new Subject(SubjectKinds.Sha256, sha256)], sha256, new string('a', 64), 100, null, DateTimeOffset.UtcNow, TimeSpan.FromDays(30))],
            default));

        await SucceedAsync();
        await store.FailAsync(await TakeAsync(), "http-status: The server answered HTTP 404.", final: true, TimeSpan.FromDays(30), default);
        Assert.Equal("failed", Assert.Single(await client.FingerprintsAsync(claim)).GetProperty("status").GetString());

        // The re-fetch after it fails again, to be retried: failed so far, due for a retry.
        await store.FailAsync(await TakeAsync(), "http-status: The server answered HTTP 503.", final: false, TimeSpan.FromMinutes(1), default);
        var retried = Assert.Single(await client.FingerprintsAsync(claim));
        Assert.Equal(("pending", "http-status: The server answered HTTP 503."), (retried.GetProperty("status").GetString(), retried.GetProperty("error").GetString()));

        // The same bytes back: the first success's set stayed in use through the failures, none is added.
        await SucceedAsync();
        Assert.Equal("done", Assert.Single(await client.FingerprintsAsync(claim)).GetProperty("status").GetString());
        Assert.Equal(1, await database.CountAsync("SELECT COUNT(*) FROM derived_fingerprints WHERE claim_id = @claim", new { claim }));
    }

    private static readonly Dictionary<string, string> WorkerProcessSettings = new()
    {
        ["Registry__Worker__Lease"] = "00:00:05",
        ["Registry__Worker__PollInterval"] = "00:00:00.05",
        ["Registry__Fetch__AllowPrivateAddresses"] = "true",
        ["Registry__Fetch__AllowInsecureHttp"] = "true",
        ["Registry__Fetch__AllowAnyPort"] = "true",
        ["Registry__Fetch__Timeout"] = "00:00:30",
        ["Registry__Embedding__LoadAtStart"] = "false",
    };

    /// <summary>Starts two instances on one store (two workers sharing one queue) and waits until both are ready.</summary>
    private static async Task StartBothAsync(RegistryApp first, RegistryApp second)
    {
        first.StartServer();
        second.StartServer();
        await first.WaitUntilReadyAsync();
        await second.WaitUntilReadyAsync();
    }
}

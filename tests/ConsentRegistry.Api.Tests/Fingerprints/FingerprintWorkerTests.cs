using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using ConsentRegistry.Core.Claims;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using SkiaSharp;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Fingerprints;

/// <summary>
/// The fingerprint worker end to end (DESIGN.md 5.7): claims name images served on loopback, the
/// worker fetches them, and copies of the pictures at other URLs match the claims, naming the URL.
/// </summary>
public sealed class FingerprintWorkerTests(WorkerFixture registry) : IClassFixture<WorkerFixture>
{
    private readonly HttpClient _client = registry.Client;
    private readonly ImageServer _images = registry.Images;

    [Fact]
    public async Task A_claimed_urls_image_is_fingerprinted_and_its_copies_anywhere_match_the_claim_naming_that_url()
    {
        var original = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        _images.Serve("/portfolio/bridge.jpg", original);
        var url = _images.Url("/portfolio/bridge.jpg");
        using var artist = new TestSigner();
        var claim = await _client.ClaimAsync(artist.OptOut(url));

        var item = Assert.Single(await _client.SettledFingerprintsAsync(claim));
        var hashed = await _client.HashImageAsync(original);
        Assert.Equal((url, "done"), (item.GetProperty("url").GetString(), item.GetProperty("status").GetString()));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(original)), item.GetProperty("sha256").GetString());
        Assert.Equal(hashed.GetProperty("pdq").GetString(), item.GetProperty("pdq").GetString());
        Assert.Equal(hashed.GetProperty("quality").GetInt32(), item.GetProperty("quality").GetInt32());
        Assert.InRange(item.GetProperty("fetched_at").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.False(item.TryGetProperty("error", out _));
        Assert.All(_images.UserAgents, agent => Assert.StartsWith("ConsentRegistry-Fetcher/", agent));

        // The same file elsewhere (SHA-256), a shrunk re-encoding (PDQ), a mirror image (the
        // dihedral PDQ hashes) and a slightly shrunk copy looked up by its embedding alone.
        var shrunk = await _client.HashImageAsync(TestImages.ReadPdqData("bridge-mods/shrink-a-lot.jpg"));
        var mirrored = await _client.HashImageAsync(Mirrored(original));
        var resized = await _client.HashImageAsync(TestImages.ReadPdqData("bridge-mods/shrink-a-little.jpg"));
        var results = await _client.LookupItemsAsync(
            new JsonObject { ["url"] = "https://copies.example/bridge.jpg", ["sha256"] = hashed.GetProperty("sha256").GetString() },
            new JsonObject { ["pdq"] = shrunk.GetProperty("pdq").GetString() },
            new JsonObject { ["pdq"] = mirrored.GetProperty("pdq").GetString() },
            new JsonObject { ["embeddings"] = JsonNode.Parse(resized.GetProperty("embeddings").GetRawText()) });

        Assert.Equal(["sha256", "pdq", "pdq", "embedding"], results.Select(r => Assert.Single(r.GetProperty("matches").EnumerateArray()).GetProperty("by").GetString()));
        Assert.All(results, result =>
        {
            Assert.Equal("disallow", result.GetProperty("decision").GetProperty("train-ai").GetString());
            var match = Assert.Single(result.GetProperty("matches").EnumerateArray());
            Assert.Equal((claim, url), (match.GetProperty("claim").GetString(), match.GetProperty("derived_from").GetString()));
        });

        // The claim's own subject still matches as itself, without derived_from.
        var own = Assert.Single((await _client.LookupItemsAsync(new JsonObject { ["url"] = url }))[0].GetProperty("matches").EnumerateArray());
        Assert.Equal("url", own.GetProperty("by").GetString());
        Assert.False(own.TryGetProperty("derived_from", out _));
    }

    [Fact]
    public async Task A_fetch_that_fails_for_a_while_is_retried_after_the_servers_retry_after_then_with_growing_waits()
    {
        var image = TestImages.ReadPdqData("reg-test-input/labelme-subset/q0746.jpg");
        var times = new List<TimeSpan>();
        var clock = Stopwatch.StartNew();
        _images.Paths["/flaky.jpg"] = async context =>
        {
            int attempt;
            lock (times)
            {
                times.Add(clock.Elapsed);
                attempt = times.Count;
            }

            switch (attempt)
            {
                case 1:
                    context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                    context.Response.Headers.RetryAfter = "1";
                    return;
                case 2:
                    context.Response.StatusCode = 503;
                    return;
                default:
                    context.Response.ContentType = "image/jpeg";
                    await context.Response.Body.WriteAsync(image);
                    return;
            }
        };
        using var artist = new TestSigner();
        var claim = await _client.ClaimAsync(artist.OptOut(_images.Url("/flaky.jpg")));

        var item = Assert.Single(await _client.SettledFingerprintsAsync(claim));
        Assert.Equal("done", item.GetProperty("status").GetString());
        Assert.False(item.TryGetProperty("error", out _));
        Assert.Equal(3, times.Count);
        Assert.True(times[1] - times[0] >= TimeSpan.FromSeconds(0.9), $"The second try came {times[1] - times[0]} after a Retry-After of 1 s.");
        Assert.True(times[2] - times[1] >= TimeSpan.FromSeconds(0.7), $"The third try came {times[2] - times[1]} after the second; the backoff is 0.8 s by then.");
    }

    [Fact]
    public async Task Failures_end_failed_with_their_reason_after_the_last_retry_or_at_once_when_retrying_cannot_help()
    {
        _images.Paths["/down.jpg"] = context =>
        {
            context.Response.StatusCode = 503;
            return Task.CompletedTask;
        };
        _images.Serve("/page.html", "<html></html>"u8.ToArray(), "text/html");
        _images.Serve("/broken.png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3, 4, 5, 6, 7, 8], "image/png");
        _images.Paths["/loop.jpg"] = WellKnownServer.Redirect("/loop.jpg");
        _images.Paths["/to-file.jpg"] = WellKnownServer.Redirect("file:///etc/passwd");
        string[] paths = ["/down.jpg", "/gone.jpg", "/page.html", "/broken.png", "/loop.jpg", "/to-file.jpg"];
        using var artist = new TestSigner();
        var claim = await _client.ClaimAsync(artist.Sign(TestSigner.Claim(
            paths.Select(p => TestSigner.Url(_images.Url(p))), new JsonObject { ["train-ai"] = "n" })));

        var items = (await _client.SettledFingerprintsAsync(claim)).ToDictionary(i => new Uri(i.GetProperty("url").GetString()!).AbsolutePath);

        Assert.All(items.Values, i => Assert.Equal("failed", i.GetProperty("status").GetString()));
        Assert.StartsWith("http-status: The server answered HTTP 503", items["/down.jpg"].GetProperty("error").GetString());
        Assert.StartsWith("http-status: The server answered HTTP 404", items["/gone.jpg"].GetProperty("error").GetString());
        Assert.StartsWith("not-an-image: ", items["/page.html"].GetProperty("error").GetString());
        Assert.StartsWith("undecodable-image: ", items["/broken.png"].GetProperty("error").GetString());
        Assert.StartsWith("redirect-refused: ", items["/loop.jpg"].GetProperty("error").GetString());
        Assert.StartsWith("insecure-scheme: ", items["/to-file.jpg"].GetProperty("error").GetString());
        Assert.All(items.Values, i => Assert.False(i.TryGetProperty("sha256", out _)));

        // Registry:Worker:MaxAttempts is 3: a server error is tried three times; a 404 or a page that is no image once.
        Assert.Equal(3, _images.RequestsFor("/down.jpg"));
        Assert.Equal((1, 1, 1), (_images.RequestsFor("/gone.jpg"), _images.RequestsFor("/page.html"), _images.RequestsFor("/broken.png")));
        Assert.Equal(1 + 5, _images.RequestsFor("/loop.jpg"));
    }

    [Fact]
    public async Task A_url_the_canonicaliser_accepts_but_no_http_client_can_request_ends_failed_at_once_and_is_not_retried()
    {
        // WHATWG hosts may hold characters such as * that no DNS name has, and .NET's Uri refuses.
        using var artist = new TestSigner();
        var claim = await _client.ClaimAsync(artist.OptOut("https://*.example.com/a.jpg"));

        var item = Assert.Single(await _client.SettledFingerprintsAsync(claim));

        Assert.Equal("failed", item.GetProperty("status").GetString());
        Assert.StartsWith("unsupported-url: ", item.GetProperty("error").GetString());
        var nextTry = DateTimeOffset.FromUnixTimeMilliseconds(
            await registry.App.Database.CountAsync("SELECT due_at FROM fingerprint_jobs WHERE claim_id = @claim", new { claim }));
        Assert.True(nextTry > DateTimeOffset.UtcNow.AddDays(29), $"The job is due again at {nextTry}, before the next re-fetch.");
    }

    [Fact]
    public async Task A_re_fetch_of_a_url_that_failed_finally_gets_all_its_retries_again()
    {
        _images.Paths["/down-for-good.jpg"] = context =>
        {
            context.Response.StatusCode = 503;
            return Task.CompletedTask;
        };
        using var artist = new TestSigner();
        var claim = await _client.ClaimAsync(artist.OptOut(_images.Url("/down-for-good.jpg")));
        Assert.Equal("failed", Assert.Single(await _client.SettledFingerprintsAsync(claim)).GetProperty("status").GetString());
        Assert.Equal(3, _images.RequestsFor("/down-for-good.jpg"));

        // The schedule's re-fetch, brought forward: it is tried Registry:Worker:MaxAttempts (3) times again, not once.
        var database = registry.App.Database;
        await database.ExecuteAsync("UPDATE fingerprint_jobs SET due_at = 0 WHERE claim_id = @claim", new { claim });
        await Eventually.HoldsAsync(
            async () => await database.CountAsync(
                "SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim AND lease_owner IS NULL AND due_at > @later",
                new { claim, later = DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeMilliseconds() }) == 1,
            "the re-fetch fails finally again");

        Assert.Equal(6, _images.RequestsFor("/down-for-good.jpg"));
        Assert.StartsWith("http-status: The server answered HTTP 503", Assert.Single(await _client.FingerprintsAsync(claim)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_job_of_a_revoked_claim_that_the_revocation_pass_left_behind_is_never_taken()
    {
        using var artist = new TestSigner();
        var url = _images.Url("/left-behind.jpg");
        var claim = await _client.ClaimAsync(artist.OptOut(url));
        await _client.SettledFingerprintsAsync(claim);
        Assert.Equal(HttpStatusCode.Created, (await _client.PostAsync($"/v1/claims/{claim}/revocation", Jose(artist.Revocation(claim)))).StatusCode);
        var database = registry.App.Database;
        await Eventually.HoldsAsync(
            async () => await database.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim", new { claim }) == 0,
            "the revocation pass drops the claim's job");
        var requests = _images.RequestsFor("/left-behind.jpg");

        // The job as PostgreSQL's pass leaves it when another transaction holds its row (SKIP LOCKED), and due now.
        await database.ExecuteAsync(
            "INSERT INTO fingerprint_jobs (claim_id, url, claim_seq, due_at) SELECT id, @url, seq, 0 FROM claims WHERE id = @claim",
            new { claim, url });
        var later = await _client.ClaimAsync(artist.OptOut(_images.Url("/after-left-behind.jpg")));
        await _client.SettledFingerprintsAsync(later);

        // Jobs are taken oldest first: the left-behind one would have gone with the later claim's or before it.
        Assert.Equal(1, await database.CountAsync(
            "SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim AND due_at = 0 AND lease_owner IS NULL", new { claim }));
        Assert.Equal(requests, _images.RequestsFor("/left-behind.jpg"));
    }

    [Fact]
    public async Task A_failure_or_postponement_recorded_for_a_job_whose_claim_was_revoked_drops_the_job()
    {
        using var artist = new TestSigner();
        var claim = await _client.ClaimAsync(artist.Sign(TestSigner.Claim(
            [TestSigner.Url(_images.Url("/revoked-a.jpg")), TestSigner.Url(_images.Url("/revoked-b.jpg"))], new JsonObject { ["train-ai"] = "n" })));
        await _client.SettledFingerprintsAsync(claim);
        Assert.Equal(HttpStatusCode.Created, (await _client.PostAsync($"/v1/claims/{claim}/revocation", Jose(artist.Revocation(claim)))).StatusCode);
        var database = registry.App.Database;
        await Eventually.HoldsAsync(
            async () => await database.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim", new { claim }) == 0,
            "the revocation pass drops the claim's jobs");

        // Two jobs that a worker held while the revocation pass ran (and passed by), their leases still this worker's.
        const string owner = "a-worker-that-held-the-rows";
        string[] urls = [_images.Url("/revoked-a.jpg"), _images.Url("/revoked-b.jpg")];
        foreach (var url in urls)
        {
            await database.ExecuteAsync(
                "INSERT INTO fingerprint_jobs (claim_id, url, claim_seq, due_at, lease_owner, lease_until) SELECT id, @url, seq, 0, @owner, @until FROM claims WHERE id = @claim",
                new { claim, url, owner, until = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeMilliseconds() });
        }

        var store = registry.App.Services.GetRequiredService<FingerprintJobStore>();
        await store.FailAsync(new FingerprintJob { ClaimId = claim, Url = urls[0], LeaseOwner = owner }, "http-status: The server answered HTTP 503.", final: false, TimeSpan.FromMinutes(1), default);
        await store.PostponeAsync(new FingerprintJob { ClaimId = claim, Url = urls[1], LeaseOwner = owner }, TimeSpan.FromMinutes(1), default);

        Assert.Equal(0, await database.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim", new { claim }));
    }

    /// <summary>
    /// The result of a job whose claim was revoked after the job was taken, with no revocation pass
    /// in between (the pass runs on the worker's next turn, or passes a row a result write holds):
    /// the result write itself finds the revocation, drops the job and appends nothing to the log.
    /// Driven through the store on an instance whose worker is off, so no pass can drop the job first.
    /// </summary>
    [Fact]
    public async Task A_result_written_for_a_job_whose_claim_was_revoked_after_it_was_taken_drops_the_job_and_derives_nothing()
    {
        await using var app = await RegistryApp.StartAsync(); // the worker is off: the test plays it
        var database = app.Database;
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.OptOut("https://revoked-mid-fetch.example/picture.jpg"));
        var store = app.Services.GetRequiredService<FingerprintJobStore>();
        Assert.True((await store.EnqueueAsync(default)).CaughtUp);
        var job = Assert.Single(await store.TakeAsync("worker", 1, TimeSpan.FromMinutes(1), default));
        Assert.Equal(claim, job.ClaimId);

        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync($"/v1/claims/{claim}/revocation", Jose(artist.Revocation(claim)))).StatusCode);
        Assert.Equal(1, await database.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim AND lease_owner = @lease", new { claim, lease = job.LeaseOwner }));
        var lastSeq = await database.CountAsync("SELECT last_seq FROM registry_sequence");

        var sha256 = new string('7', 64);
        var written = await store.CompleteAsync(
            [new JobCompletion(job, [new Subject(SubjectKinds.Sha256, sha256)], sha256, new string('b', 64), 100, null, DateTimeOffset.UtcNow, TimeSpan.FromDays(30))],
            default);

        Assert.Equal(0, written);
        Assert.Equal(0, await database.CountAsync("SELECT COUNT(*) FROM derived_fingerprints WHERE claim_id = @claim", new { claim }));
        Assert.Equal(0, await database.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim", new { claim }));
        Assert.Equal(lastSeq, await database.CountAsync("SELECT last_seq FROM registry_sequence"));
    }

    [Fact]
    public async Task A_claim_revoked_while_its_image_is_being_fetched_gets_no_derived_fingerprints()
    {
        var image = TestImages.ReadPdqData("reg-test-input/labelme-subset/q0291.jpg");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _images.Paths["/slow.jpg"] = async context =>
        {
            await release.Task;
            context.Response.ContentType = "image/jpeg";
            await context.Response.Body.WriteAsync(image);
        };
        using var artist = new TestSigner();
        var claim = await _client.ClaimAsync(artist.OptOut(_images.Url("/slow.jpg")));
        await Eventually.HoldsAsync(() => Task.FromResult(_images.RequestsFor("/slow.jpg") == 1), "the worker asks for the image");

        using var fingerprinted = new MetricCollector<double>(
            registry.App.Services.GetRequiredService<IMeterFactory>(), RegistryMetrics.MeterName, "registry.worker.fingerprint.duration");
        var revoked = await _client.PostAsync($"/v1/claims/{claim}/revocation", Jose(artist.Revocation(claim)));
        Assert.Equal(HttpStatusCode.Created, revoked.StatusCode);
        release.SetResult();

        var database = registry.App.Database;
        await Eventually.HoldsAsync(
            async () => await database.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim", new { claim }) == 0,
            "the revoked claim's job is dropped");

        // The job can be gone before the worker has the image: wait until its fetch has ended in
        // fingerprints, then until a later claim's result is written. The worker writes the results
        // it holds in order, so by then the revoked claim's result has been written (or dropped).
        await Eventually.HoldsAsync(() => fingerprinted.GetMeasurementSnapshot().Count >= 1, "the revoked claim's image is fingerprinted");
        using var later = TestImages.Bitmap(640, 480, seed: 29);
        _images.Serve("/after-revoked-fetch.png", TestImages.Encode(later, SKEncodedImageFormat.Png), "image/png");
        var laterClaim = await _client.ClaimAsync(artist.OptOut(_images.Url("/after-revoked-fetch.png")));
        Assert.Equal("done", Assert.Single(await _client.SettledFingerprintsAsync(laterClaim)).GetProperty("status").GetString());
        Assert.Equal(1, await database.CountAsync("SELECT COUNT(*) FROM derived_fingerprints WHERE claim_id = @laterClaim", new { laterClaim }));

        Assert.Equal(0, await database.CountAsync("SELECT COUNT(*) FROM derived_fingerprints WHERE claim_id = @claim", new { claim }));
        var result = (await _client.LookupItemsAsync(new JsonObject { ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(image)) }))[0];
        Assert.Empty(result.GetProperty("matches").EnumerateArray());
    }

    [Fact]
    public async Task A_re_fetch_that_finds_the_same_image_adds_nothing_to_the_log_and_one_that_finds_another_replaces_its_fingerprints()
    {
        var first = TestImages.ReadPdqData("reg-test-input/labelme-subset/q0122.jpg");
        var second = TestImages.ReadPdqData("reg-test-input/labelme-subset/q0004.jpg");
        var served = first;
        _images.Paths["/changing.jpg"] = context =>
        {
            context.Response.ContentType = "image/jpeg";
            return context.Response.Body.WriteAsync(Volatile.Read(ref served)).AsTask();
        };
        using var artist = new TestSigner();
        var url = _images.Url("/changing.jpg");
        var claim = await _client.ClaimAsync(artist.OptOut(url));
        await _client.SettledFingerprintsAsync(claim);
        var database = registry.App.Database;
        Assert.Equal(1, await database.CountAsync("SELECT COUNT(*) FROM derived_fingerprints WHERE claim_id = @claim", new { claim }));

        // The schedule's re-fetch, brought forward.
        await RefetchNowAsync(database, claim, expectedRequests: 2);
        Assert.Equal(1, await database.CountAsync("SELECT COUNT(*) FROM derived_fingerprints WHERE claim_id = @claim", new { claim }));

        Volatile.Write(ref served, second);
        await RefetchNowAsync(database, claim, expectedRequests: 3);
        await Eventually.HoldsAsync(
            async () => await database.CountAsync("SELECT COUNT(*) FROM derived_fingerprints WHERE claim_id = @claim", new { claim }) == 2,
            "the changed image's fingerprints are in the log");
        var item = Assert.Single(await _client.FingerprintsAsync(claim));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(second)), item.GetProperty("sha256").GetString());

        await Eventually.HoldsAsync(async () =>
        {
            var results = await _client.LookupItemsAsync(
                new JsonObject { ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(first)) },
                new JsonObject { ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(second)) });
            return results[0].GetProperty("matches").GetArrayLength() == 0 && results[1].GetProperty("matches").GetArrayLength() == 1;
        }, "the old image's SHA-256 no longer matches and the new one does");

        async Task RefetchNowAsync(TestDatabase db, string id, int expectedRequests)
        {
            await db.ExecuteAsync("UPDATE fingerprint_jobs SET due_at = 0 WHERE claim_id = @id", new { id });
            await Eventually.HoldsAsync(
                async () => _images.RequestsFor("/changing.jpg") == expectedRequests
                    && await db.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @id AND due_at > 0 AND lease_owner IS NULL", new { id }) == 1,
                "the re-fetch is done");
        }
    }

    [Fact]
    public async Task A_derived_fingerprint_that_meets_another_partys_claim_is_a_near_duplicate_and_a_recorded_conflict()
    {
        // A picture of this test's own: the shared registry holds the other tests' claims on the conformance images.
        using var picture = TestImages.Bitmap(640, 480, seed: 11);
        _images.Serve("/gallery/waves.png", TestImages.Encode(picture, SKEncodedImageFormat.Png), "image/png");
        using var artist = new TestSigner();
        using var platform = new TestSigner();
        var optOut = await _client.ClaimAsync(artist.OptOut(_images.Url("/gallery/waves.png")));
        await _client.SettledFingerprintsAsync(optOut);
        var copy = await _client.HashImageAsync(HalvedJpeg(picture));
        var consent = await _client.ClaimAsync(platform.Sign(TestSigner.Claim(
            [TestSigner.Subject("pdq", copy.GetProperty("pdq").GetString()!)], new JsonObject { ["train-ai"] = "y" })));

        var response = await _client.GetAsync($"/v1/claims/{optOut}/near-duplicates");
        var item = Assert.Single((await response.JsonAsync()).GetProperty("items").EnumerateArray());
        Assert.Equal((consent, platform.Party, "pdq", true),
            (item.GetProperty("claim").GetString(), item.GetProperty("party").GetString(), item.GetProperty("by").GetString(), item.GetProperty("conflict").GetBoolean()));

        using var admin = registry.App.CreateAdminClient();
        await Eventually.HoldsAsync(async () =>
        {
            var page = await (await admin.GetAsync("/v1/admin/conflicts?limit=500")).JsonAsync();
            return page.GetProperty("items").EnumerateArray().Any(c =>
                c.GetProperty("claims").EnumerateArray().Select(x => x.GetProperty("claim").GetString()).Order(StringComparer.Ordinal)
                    .SequenceEqual(new[] { optOut, consent }.Order(StringComparer.Ordinal)));
        }, "the pair found through the derived set is an open conflict");
    }

    [Fact]
    public async Task The_fingerprints_of_an_unknown_or_malformed_claim_id_are_a_problem()
    {
        await AssertProblemAsync(await _client.GetAsync($"/v1/claims/{new string('b', 64)}/fingerprints"), HttpStatusCode.NotFound, "claim-not-found");
        await AssertProblemAsync(await _client.GetAsync("/v1/claims/nope/fingerprints"), HttpStatusCode.BadRequest, "invalid-claim-id");
    }

    private static byte[] HalvedJpeg(SKBitmap picture)
    {
        using var half = new SKBitmap(picture.Width / 2, picture.Height / 2);
        using (var canvas = new SKCanvas(half))
        {
            canvas.DrawBitmap(picture, new SKRect(0, 0, half.Width, half.Height));
        }

        return TestImages.Encode(half, SKEncodedImageFormat.Jpeg, quality: 70);
    }

    private static byte[] Mirrored(byte[] image)
    {
        using var bitmap = SKBitmap.Decode(image);
        using var mirrored = new SKBitmap(bitmap.Width, bitmap.Height);
        using (var canvas = new SKCanvas(mirrored))
        {
            canvas.Scale(-1, 1, bitmap.Width / 2f, 0);
            canvas.DrawBitmap(bitmap, 0, 0);
        }

        return TestImages.Encode(mirrored, SKEncodedImageFormat.Png);
    }
}

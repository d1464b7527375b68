using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Diagnostics.Metrics;
using ConsentRegistry.Api.Fingerprints;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace ConsentRegistry.Api.Tests.Fingerprints;

/// <summary>
/// How the fetcher behaves towards the sites it fetches from (docs/fingerprints.md): it names
/// itself and its operator, and it slows down when a host asks, within bounds a host cannot push
/// past. Each test has a registry of its own: a host's pause holds up every job on it.
/// </summary>
public sealed class FetchPolitenessTests : IAsyncLifetime
{
    private ImageServer _images = null!;

    public async Task InitializeAsync() => _images = await ImageServer.StartAsync();

    public async Task DisposeAsync() => await _images.DisposeAsync();

    [Theory]
    [InlineData(null)]
    [InlineData("https://registry.example/about-our-fetcher")]
    public async Task The_user_agent_names_the_fetcher_and_an_operator_page_configured_or_not(string? operatorUrl)
    {
        _images.Serve("/who.jpg", TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg"));
        await using var app = await RegistryApp.StartAsync(Settings(new() { ["Registry:Fetch:OperatorUrl"] = operatorUrl }));
        using var client = app.CreateClient();
        using var artist = new TestSigner();

        await client.SettledFingerprintsAsync(await client.ClaimAsync(artist.OptOut(_images.Url("/who.jpg"))));

        var agent = Assert.Single(_images.UserAgents);
        var version = typeof(ImageFetcher).Assembly.GetName().Version!.ToString(2);
        Assert.Matches($@"^ConsentRegistry-Fetcher/{Regex.Escape(version)} \(\+https?://[^\s()]+\)$", agent);
        var warnings = app.Logs.Where(line => line.StartsWith("Warning", StringComparison.Ordinal) && line.Contains("Registry:Fetch:OperatorUrl", StringComparison.Ordinal));
        if (operatorUrl is null)
        {
            Assert.Single(warnings);
        }
        else
        {
            Assert.EndsWith($"(+{operatorUrl})", agent);
            Assert.Empty(warnings);
        }
    }

    [Theory]
    [InlineData("2147483647")]
    [InlineData("Fri, 31 Dec 9999 23:59:59 GMT")]
    public async Task A_retry_after_of_decades_holds_the_job_and_its_host_back_an_hour_at_most(string retryAfter)
    {
        _images.Paths["/come-back-never.jpg"] = context =>
        {
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = retryAfter;
            return Task.CompletedTask;
        };
        _images.Serve("/same-host.jpg", TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg"));
        await using var app = await RegistryApp.StartAsync(Settings([]));
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var asked = DateTimeOffset.UtcNow;
        var refused = await client.ClaimAsync(artist.OptOut(_images.Url("/come-back-never.jpg")));
        await FailedTryRecordedAsync(app, refused);
        var postponed = await client.ClaimAsync(artist.OptOut(_images.Url("/same-host.jpg")));
        await JobsHeldBackAsync(app, postponed, TimeSpan.FromMinutes(30), 1);

        // Registry:Worker:MaxRetryAfter (1 hour by default) caps both the job's wait and its host's pause.
        var latest = DateTimeOffset.UtcNow.AddHours(1).AddMinutes(1);
        foreach (var claim in new[] { refused, postponed })
        {
            var dueAt = DateTimeOffset.FromUnixTimeMilliseconds(await app.Database.CountAsync("SELECT due_at FROM fingerprint_jobs WHERE claim_id = @claim", new { claim }));
            Assert.InRange(dueAt, asked.AddMinutes(59), latest);
        }

        Assert.Equal(0, _images.RequestsFor("/same-host.jpg"));
    }

    [Fact]
    public async Task A_429_without_retry_after_pauses_its_host_for_the_first_backoff_step()
    {
        _images.Paths["/slow-down.jpg"] = context =>
        {
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            return Task.CompletedTask;
        };
        _images.Serve("/next-on-host.jpg", TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg"));
        await using var app = await RegistryApp.StartAsync(Settings(new() { ["Registry:Worker:RetryBackoff"] = "00:01:00" }));
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var refused = await client.ClaimAsync(artist.OptOut(_images.Url("/slow-down.jpg")));
        await FailedTryRecordedAsync(app, refused);

        var next = await client.ClaimAsync(artist.OptOut(_images.Url("/next-on-host.jpg")));
        await JobsHeldBackAsync(app, next, TimeSpan.FromSeconds(30), 1);

        Assert.Equal(0, _images.RequestsFor("/next-on-host.jpg"));
        Assert.Equal("pending", Assert.Single(await client.FingerprintsAsync(next)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_job_waiting_for_its_hosts_slot_when_the_host_asks_for_a_pause_does_not_fetch()
    {
        var image = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        var requests = 0;
        RequestDelegate handler = async context =>
        {
            if (Interlocked.Increment(ref requests) == 1)
            {
                // The other job has been taken with this one and waits for the host's one slot.
                await Task.Delay(TimeSpan.FromSeconds(1));
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.Response.Headers.RetryAfter = "60";
                return;
            }

            context.Response.ContentType = "image/jpeg";
            await context.Response.Body.WriteAsync(image);
        };
        _images.Paths["/one.jpg"] = handler;
        _images.Paths["/two.jpg"] = handler;
        await using var app = await RegistryApp.StartAsync(Settings(new() { ["Registry:Fetch:PerHostConcurrency"] = "1" }));
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.Sign(TestSigner.Claim(
            [TestSigner.Url(_images.Url("/one.jpg")), TestSigner.Url(_images.Url("/two.jpg"))], new JsonObject { ["train-ai"] = "n" })));

        await JobsHeldBackAsync(app, claim, TimeSpan.FromSeconds(30), 2);

        Assert.Equal(1, Volatile.Read(ref requests));
        Assert.All(await client.FingerprintsAsync(claim), item => Assert.Equal("pending", item.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task A_redirect_to_another_host_waits_for_a_turn_of_that_host()
    {
        var image = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        int inFlight = 0, most = 0;
        _images.Paths["/slow.jpg"] = async context =>
        {
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref most, now);
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                context.Response.ContentType = "image/jpeg";
                await context.Response.Body.WriteAsync(image);
            }
            finally
            {
                Interlocked.Decrement(ref inFlight);
            }
        };

        // localhost and 127.0.0.1 are two hosts to the fetcher: the claimed URLs on localhost all lead to 127.0.0.1.
        _images.Paths["/hop-1.jpg"] = _images.Paths["/hop-2.jpg"] = RedirectTo(_images.Url("/slow.jpg"));
        await using var app = await RegistryApp.StartAsync(Settings(new() { ["Registry:Fetch:PerHostConcurrency"] = "1" }));
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.Sign(TestSigner.Claim(
            [TestSigner.Url(OnLocalhost("/hop-1.jpg")), TestSigner.Url(OnLocalhost("/hop-2.jpg")), TestSigner.Url(_images.Url("/slow.jpg"))],
            new JsonObject { ["train-ai"] = "n" })));

        var settled = await client.SettledFingerprintsAsync(claim);

        Assert.All(settled, item => Assert.Equal("done", item.GetProperty("status").GetString()));
        Assert.Equal(3, _images.RequestsFor("/slow.jpg"));
        Assert.Equal(1, Volatile.Read(ref most)); // one request at a time to 127.0.0.1, the redirected ones included
    }

    [Fact]
    public async Task A_429_to_a_redirected_request_pauses_the_host_that_answered_it()
    {
        _images.Paths["/busy.jpg"] = context =>
        {
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = "60";
            return Task.CompletedTask;
        };
        _images.Paths["/hop.jpg"] = RedirectTo(_images.Url("/busy.jpg"));
        _images.Serve("/next.jpg", TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg"));
        await using var app = await RegistryApp.StartAsync(Settings([]));
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var refused = await client.ClaimAsync(artist.OptOut(OnLocalhost("/hop.jpg")));
        await FailedTryRecordedAsync(app, refused);

        // 127.0.0.1 asked for the pause, not localhost, whose URL was claimed.
        var next = await client.ClaimAsync(artist.OptOut(_images.Url("/next.jpg")));
        await JobsHeldBackAsync(app, next, TimeSpan.FromSeconds(30), 1);

        Assert.Equal(0, _images.RequestsFor("/next.jpg"));
        Assert.Equal(1, _images.RequestsFor("/busy.jpg"));
    }

    /// <summary>
    /// A redirect names its target's host as it likes: <c>LocalHost.</c> is the origin claimed URLs
    /// write as <c>localhost</c>, and shares its turns and pauses. Under a key of its own, a site
    /// could double the requests in flight to it, and walk past the pause it asked for, by
    /// redirecting to its own name with a trailing dot.
    /// </summary>
    [Fact]
    public async Task A_redirect_to_a_paused_host_spelled_with_a_trailing_dot_and_capitals_waits_out_that_hosts_pause()
    {
        _images.Paths["/busy.jpg"] = context =>
        {
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = "60";
            return Task.CompletedTask;
        };
        _images.Paths["/hop.jpg"] = RedirectTo($"http://LocalHost.:{_images.Port}/next.jpg");
        await using var app = await RegistryApp.StartAsync(Settings([]));
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var refused = await client.ClaimAsync(artist.OptOut(OnLocalhost("/busy.jpg")));
        await FailedTryRecordedAsync(app, refused); // localhost asked for a minute's pause

        var redirected = await client.ClaimAsync(artist.OptOut(_images.Url("/hop.jpg")));
        await JobsHeldBackAsync(app, redirected, TimeSpan.FromSeconds(30), 1);

        Assert.Equal(1, _images.RequestsFor("/hop.jpg"));
        // Put off untried: no request to localhost. was made, so none failed (here it would, as localhost. is not in DNS).
        Assert.Equal(1, await app.Database.CountAsync(
            "SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim AND attempts = 0 AND error IS NULL", new { claim = redirected }));
    }

    /// <summary>
    /// A job put off for its host's pause whose postponement the store refuses: the store's error is
    /// logged as such, and not recorded as the image's fetch failure (it was a fetch-failed try).
    /// </summary>
    [Fact]
    public async Task A_store_error_while_postponing_a_job_is_not_recorded_as_a_failed_fetch()
    {
        _images.Paths["/busy.jpg"] = context =>
        {
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = "60";
            return Task.CompletedTask;
        };
        await using var app = await RegistryApp.StartAsync(Settings([]));
        using var jobs = new MetricCollector<long>(app.Services.GetRequiredService<IMeterFactory>(), RegistryMetrics.MeterName, "registry.worker.jobs");
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var refused = await client.ClaimAsync(artist.OptOut(_images.Url("/busy.jpg")));
        await FailedTryRecordedAsync(app, refused); // the host asked for a minute's pause

        // The store refuses any release of the next job's lease (its postponement), as a store that is down would.
        var url = _images.Url("/put-off.jpg");
        await app.Database.ExecuteAsync(app.Database.Provider == "sqlite"
            ? $"CREATE TRIGGER refuse_release BEFORE UPDATE ON fingerprint_jobs WHEN OLD.url = '{url}' AND NEW.lease_owner IS NULL BEGIN SELECT RAISE(ABORT, 'the store refuses'); END"
            : "CREATE FUNCTION refuse_release() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the store refuses'; END $$");
        if (app.Database.Provider != "sqlite")
        {
            await app.Database.ExecuteAsync(
                $"CREATE TRIGGER refuse_release BEFORE UPDATE ON fingerprint_jobs FOR EACH ROW WHEN (OLD.url = '{url}' AND NEW.lease_owner IS NULL) EXECUTE FUNCTION refuse_release()");
        }

        await client.ClaimAsync(artist.OptOut(url));
        await Eventually.HoldsAsync(
            () => app.Logs.Any(line => line.Contains("Postponing a fingerprint job", StringComparison.Ordinal) || line.Contains("failed unexpectedly", StringComparison.Ordinal)),
            "the worker meets the store's error");

        Assert.Equal(0, _images.RequestsFor("/put-off.jpg"));
        Assert.DoesNotContain(jobs.GetMeasurementSnapshot(), m => $"{m.Tags["outcome"]}" == FetchErrors.FetchFailed);
        Assert.Contains(app.Logs, line => line.Contains("Postponing a fingerprint job for its host's pause failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_retry_after_cap_out_of_range_stops_the_start_with_a_message_saying_how_to_fix_it()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Worker:MaxRetryAfter"] = "2.00:00:00" });

        var error = Assert.ThrowsAny<Exception>(app.StartServer);

        Assert.Contains("Registry:Worker:MaxRetryAfter is 2.00:00:00; use 00:00:01 to 1.00:00:00", error.ToString());
    }

    private string OnLocalhost(string path) => $"http://localhost:{_images.Port}{path}";

    private static RequestDelegate RedirectTo(string url) => context =>
    {
        context.Response.StatusCode = StatusCodes.Status302Found;
        context.Response.Headers.Location = url;
        return Task.CompletedTask;
    };

    private static void InterlockedMax(ref int most, int value)
    {
        for (var seen = Volatile.Read(ref most); value > seen && Interlocked.CompareExchange(ref most, value, seen) != seen; seen = Volatile.Read(ref most))
        {
        }
    }

    /// <summary>Waits until the claim's one job has a failed try recorded and is given back.</summary>
    private static Task FailedTryRecordedAsync(RegistryApp app, string claim) => Eventually.HoldsAsync(
        async () => await app.Database.CountAsync(
            "SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim AND attempts = 1 AND lease_owner IS NULL", new { claim }) == 1,
        "the failed try is recorded");

    /// <summary>Waits until <paramref name="count"/> of the claim's jobs are given back, due no sooner than <paramref name="atLeast"/> from now.</summary>
    private static Task JobsHeldBackAsync(RegistryApp app, string claim, TimeSpan atLeast, int count) => Eventually.HoldsAsync(
        async () => await app.Database.CountAsync(
            "SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim AND due_at > @soon AND lease_owner IS NULL",
            new { claim, soon = DateTimeOffset.UtcNow.Add(atLeast).ToUnixTimeMilliseconds() }) == count,
        $"{count} job(s) held back by the host's pause");

    /// <summary>The worker tests' settings, then <paramref name="changes"/>.</summary>
    private static Dictionary<string, string?> Settings(Dictionary<string, string?> changes)
    {
        var settings = new Dictionary<string, string?>(WorkerFixture.Settings);
        foreach (var (key, value) in changes)
        {
            settings[key] = value;
        }

        return settings;
    }
}

using System.Net;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Fingerprints;

/// <summary>
/// The passes that turn the log into jobs, driven by hand on an instance whose worker is off: each
/// is bounded by the subjects it touches, the jobs it drops as much as the jobs it adds.
/// </summary>
public sealed class EnqueuePassTests
{
    [Fact]
    public async Task Revocations_of_claims_with_more_subjects_than_one_pass_takes_drop_their_jobs_over_several_passes()
    {
        await using var app = await RegistryApp.StartAsync();
        var database = app.Database;
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var store = app.Services.GetRequiredService<FingerprintJobStore>();

        // Three claims of 10,000 URLs each: 30,000 subjects, half again what one pass takes.
        var claims = new List<string>();
        for (var c = 0; c < 3; c++)
        {
            var urls = Enumerable.Range(0, 10_000).Select(i => TestSigner.Url($"https://artist.example/{c}/{i}.jpg"));
            claims.Add(await client.ClaimAsync(artist.Sign(TestSigner.Claim(urls, new JsonObject { ["train-ai"] = "n" }))));
        }

        while (!(await store.EnqueueAsync(default)).CaughtUp)
        {
        }

        Assert.Equal(30_000, await database.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs"));
        foreach (var claim in claims)
        {
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsync($"/v1/claims/{claim}/revocation", Jose(artist.Revocation(claim)))).StatusCode);
        }

        // The first pass drops the jobs of the first two revoked claims (20,000 rows), not all 30,000.
        var (added, caughtUp) = await store.EnqueueAsync(default);
        Assert.Equal(0, added);
        Assert.False(caughtUp, "One pass dropped the jobs of 30,000 subjects.");
        Assert.Equal(10_000, await database.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs"));
        Assert.Equal(10_000, await database.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @claim", new { claim = claims[2] }));

        Assert.True((await store.EnqueueAsync(default)).CaughtUp);
        Assert.Equal(0, await database.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs"));
    }

    /// <summary>
    /// A job already queued (a pass cut short leaves its jobs ahead of the mark, and the next pass
    /// inserts them again as no-ops) is not counted again: registry_worker_enqueued_total adds what
    /// a pass returns.
    /// </summary>
    [Fact]
    public async Task A_pass_counts_the_jobs_it_inserted_not_those_already_queued()
    {
        await using var app = await RegistryApp.StartAsync();
        var database = app.Database;
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var urls = Enumerable.Range(0, 3).Select(i => $"https://artist.example/counted/{i}.jpg").ToArray();
        var claim = await client.ClaimAsync(artist.Sign(TestSigner.Claim(urls.Select(TestSigner.Url), new JsonObject { ["train-ai"] = "n" })));
        await database.ExecuteAsync(
            "INSERT INTO fingerprint_jobs (claim_id, url, claim_seq, due_at) SELECT id, @url, seq, 0 FROM claims WHERE id = @claim",
            new { claim, url = urls[0] });

        var (added, caughtUp) = await app.Services.GetRequiredService<FingerprintJobStore>().EnqueueAsync(default);

        Assert.True(caughtUp);
        Assert.Equal(2, added);
        Assert.Equal(3, await database.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs"));
    }

    /// <summary>
    /// A worker that starts behind a backlog (here 40,001 subjects, three passes) takes the jobs
    /// of its first pass before it runs the next: it used to enqueue the whole log first, which
    /// for a backlog of millions held every fetch back for hours.
    /// </summary>
    [Fact]
    public async Task A_worker_behind_a_backlog_fetches_its_first_jobs_before_the_rest_is_queued()
    {
        await using var images = await ImageServer.StartAsync();
        await using var database = await TestDatabase.CreateAsync();
        long last;
        await using (var api = new RegistryApp(database))
        {
            api.StartServer();
            await api.WaitUntilReadyAsync();
            using var client = api.CreateClient();
            using var artist = new TestSigner();
            await client.ClaimAsync(artist.OptOut(images.Url("/first.jpg")));
            for (var c = 0; c < 4; c++)
            {
                var urls = Enumerable.Range(0, 10_000).Select(i => TestSigner.Url(images.Url($"/backlog/{c}/{i}.jpg"))); // 404s
                await client.ClaimAsync(artist.Sign(TestSigner.Claim(urls, new JsonObject { ["train-ai"] = "n" })));
            }

            last = await database.CountAsync("SELECT last_seq FROM registry_sequence");
        }

        // The oldest job, so among the first taken; where the queue's mark stood when it was fetched.
        var markAtFirstFetch = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        images.Paths["/first.jpg"] = async context =>
        {
            markAtFirstFetch.TrySetResult(await database.CountAsync("SELECT enqueued_seq FROM fingerprint_queue"));
            context.Response.StatusCode = StatusCodes.Status404NotFound;
        };
        await using var worker = new RegistryApp(database, new Dictionary<string, string?>(WorkerFixture.Settings));
        worker.StartServer();

        var mark = await markAtFirstFetch.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(mark < last, $"The first job was fetched once the queue had caught up with the whole log (seq {mark} of {last}).");
    }
}

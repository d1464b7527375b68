using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Claims;

/// <summary>
/// The writer's two queues: an artist's small claim that arrives while large claims wait is
/// written before them, so that it waits behind the one large claim being written at most; a large
/// claim that has waited long enough goes before the small ones (no starvation), but never two large
/// batches in a row while small entries wait. The writer
/// has a thread of its own, so that the callers it answers resume on the pool at once.
/// </summary>
public sealed class WriterLaneTests
{
    /// <summary>
    /// Whether or not the queued large claims have waited past <see cref="ClaimWriter.MaxLargeWait"/>:
    /// after a large batch, a waiting small claim goes next (a burst of large claims that all waited
    /// that long does not hold an artist's claim behind the whole burst).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_small_claim_queued_behind_large_ones_is_written_after_the_one_being_written(bool largeOnesWaitedPastTheirLimit)
    {
        var listener = new HoldingListener();
        await using var app = await RegistryApp.StartAsync(services: services => services.AddSingleton<ICommittedLogListener>(listener));
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var writer = app.Services.GetRequiredService<ClaimWriter>();
        // A minute: however slow this machine, the large claims have not waited too long.
        writer.MaxLargeWait = largeOnesWaitedPastTheirLimit ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromMinutes(1);

        // The first large claim is committed and the writer held inside it, as if it were slow to index.
        var first = client.PostAsync("/v1/claims", Jose(signer.Sign(Large("first"))));
        Assert.True(listener.Holding.Wait(TimeSpan.FromSeconds(30)), "The first claim was not committed within 30 s.");
        var second = client.PostAsync("/v1/claims", Jose(signer.Sign(Large("second"))));
        var third = client.PostAsync("/v1/claims", Jose(signer.Sign(Large("third"))));
        await Eventually.HoldsAsync(() => writer.Queued.Large == 2, "two large claims queued");
        var small = client.PostAsync("/v1/claims", Jose(signer.OptOut("https://artist.example/portfolio/1.jpg")));
        await Eventually.HoldsAsync(() => writer.Queued.Small == 1, "the small claim queued");
        if (largeOnesWaitedPastTheirLimit)
        {
            await Task.Delay(300);
        }

        listener.Release();

        var seqs = await SeqsAsync(first, small, second, third);

        Assert.Equal([1L, 2L], seqs[..2]); // the large claim being written, then the small one
        Assert.Equal([3L, 4L], seqs[2..].Order());
    }

    [Fact]
    public async Task A_claim_of_few_but_very_long_urls_queues_with_the_large_claims()
    {
        // 40 subjects, but 320 KB signed: by its subjects alone it would be small, and a small batch
        // could hold hundreds of such claims.
        var listener = new HoldingListener();
        await using var app = await RegistryApp.StartAsync(services: services => services.AddSingleton<ICommittedLogListener>(listener));
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var writer = app.Services.GetRequiredService<ClaimWriter>();
        var first = client.PostAsync("/v1/claims", Jose(signer.OptOut("https://artist.example/portfolio/first.jpg")));
        Assert.True(listener.Holding.Wait(TimeSpan.FromSeconds(30)), "The first claim was not committed within 30 s.");

        var longUrls = TestSigner.Claim(
            Enumerable.Range(0, 40).Select(i => TestSigner.Url($"https://platform.example/{i}/{new string('a', 8_000)}.jpg")), new JsonObject { ["train-ai"] = "n" });
        var heavy = client.PostAsync("/v1/claims", Jose(signer.Sign(longUrls)));
        await Eventually.HoldsAsync(() => writer.Queued == (0, 1), "the claim of long URLs queued as a large claim");
        listener.Release();

        Assert.Equal([1L, 2L], await SeqsAsync(first, heavy));
    }

    [Fact]
    public async Task A_large_claim_that_has_waited_long_enough_goes_before_small_ones()
    {
        var listener = new HoldingListener();
        await using var app = await RegistryApp.StartAsync(services: services => services.AddSingleton<ICommittedLogListener>(listener));
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var writer = app.Services.GetRequiredService<ClaimWriter>();
        writer.MaxLargeWait = TimeSpan.FromMilliseconds(100);

        var (first, large, small) = await LargeThenSmallBehindAHeldClaimAsync(client, signer, writer, listener, "waiting");

        listener.Release();

        var seqs = await SeqsAsync(first, large, small);

        Assert.Equal([1L, 2L, 3L], seqs);
    }

    /// <summary>
    /// The index's merges wait until the writer has answered: after a large claim, a small one
    /// already queued is written and answered first, and the listeners catch up
    /// (<see cref="ICommittedLogListener.OnCallersAnswered"/>) only then, unless they have been put
    /// off for <see cref="ClaimWriter.MaxCatchUpDelay"/> already (here zero: after every batch).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Listeners_catch_up_once_no_small_claim_waits_or_once_put_off_too_long(bool noDelayAllowed)
    {
        var listener = new HoldingListener();
        await using var app = await RegistryApp.StartAsync(services: services => services.AddSingleton<ICommittedLogListener>(listener));
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var writer = app.Services.GetRequiredService<ClaimWriter>();
        writer.MaxLargeWait = TimeSpan.FromMilliseconds(100);
        // A minute: however slow this machine, the delay is never why the listeners catch up.
        writer.MaxCatchUpDelay = noDelayAllowed ? TimeSpan.Zero : TimeSpan.FromMinutes(1);

        var (first, large, small) = await LargeThenSmallBehindAHeldClaimAsync(client, signer, writer, listener, "catch-up");

        listener.Release();
        Assert.Equal([1L, 2L, 3L], await SeqsAsync(first, large, small));

        string[] expected = noDelayAllowed
            ? ["committed 1", "caught up", "committed 2", "caught up", "committed 3", "caught up"]
            : ["committed 1", "committed 2", "committed 3", "caught up"];
        await Eventually.HoldsAsync(() => listener.Events.Count == expected.Length, "the listeners caught up");
        Assert.Equal(expected, listener.Events);
    }

    /// <summary>
    /// SQLite's calls complete synchronously, so there the whole batch, its commit and its publishing
    /// run on the writer's thread (on the pool, the writer held a pool thread for a whole run of
    /// batches and the callers it completed waited in that thread's queue).
    /// </summary>
    [SqliteFact("PostgreSQL's I/O completes on the pool, whose thread returns to its queue at each await")]
    public async Task On_SQLite_the_writer_commits_on_a_thread_of_its_own_not_on_the_thread_pool()
    {
        var listener = new ThreadListener();
        await using var app = await RegistryApp.StartAsync(services: services => services.AddSingleton<ICommittedLogListener>(listener));
        using var client = app.CreateClient();
        using var signer = new TestSigner();

        foreach (var n in Enumerable.Range(0, 3))
        {
            var response = await client.PostAsync("/v1/claims", Jose(signer.OptOut($"https://artist.example/thread/{n}.jpg")));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        Assert.Equal(3, listener.Threads.Count);
        Assert.All(listener.Threads, thread => Assert.Equal(("Claim log writer", false), thread));
    }

    /// <summary>
    /// An artist's claim committed and the writer held inside it, then a large claim and a small
    /// one queued behind it, the large one (with <see cref="ClaimWriter.MaxLargeWait"/> set short)
    /// waiting past its limit: released, the writer takes the large one next.
    /// </summary>
    private static async Task<(Task<HttpResponseMessage> First, Task<HttpResponseMessage> Large, Task<HttpResponseMessage> Small)> LargeThenSmallBehindAHeldClaimAsync(
        HttpClient client, TestSigner signer, ClaimWriter writer, HoldingListener listener, string name)
    {
        var first = client.PostAsync("/v1/claims", Jose(signer.OptOut($"https://artist.example/{name}/first.jpg")));
        Assert.True(listener.Holding.Wait(TimeSpan.FromSeconds(30)), "The first claim was not committed within 30 s.");
        var large = client.PostAsync("/v1/claims", Jose(signer.Sign(Large(name))));
        await Eventually.HoldsAsync(() => writer.Queued.Large == 1, "the large claim queued");
        var small = client.PostAsync("/v1/claims", Jose(signer.OptOut($"https://artist.example/{name}/second.jpg")));
        await Eventually.HoldsAsync(() => writer.Queued.Small == 1, "the small claim queued");
        await Task.Delay(300); // the large claim has now waited past MaxLargeWait
        return (first, large, small);
    }

    /// <summary>The seq each claim was written at, in the order given; each must have been created.</summary>
    private static async Task<List<long>> SeqsAsync(params Task<HttpResponseMessage>[] posts)
    {
        var seqs = new List<long>();
        foreach (var post in posts)
        {
            using var response = await post;
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            seqs.Add((await response.JsonAsync()).GetProperty("seq").GetInt64());
        }

        return seqs;
    }

    /// <summary>A claim of 2,000 URL subjects: large (<see cref="ClaimWriter.MaxSmallEntrySubjects"/>).</summary>
    private static JsonObject Large(string name) =>
        TestSigner.Claim(Enumerable.Range(0, 2_000).Select(i => TestSigner.Url($"https://platform.example/{name}/{i}.jpg")), new JsonObject { ["train-ai"] = "n" });

    /// <summary>Notes the thread each commit is told on.</summary>
    private sealed class ThreadListener : ICommittedLogListener
    {
        public ConcurrentQueue<(string? Name, bool IsThreadPoolThread)> Threads { get; } = new();

        public void OnCommitted(CommittedBatch batch) => Threads.Enqueue((Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread));
    }

    /// <summary>
    /// A batch finds a claim by its content hash too (to find a re-encoded twin); a revocation
    /// naming a claim's content hash instead of its id, in the same batch as that claim sent again,
    /// is refused as naming no claim, without failing the batch.
    /// </summary>
    [Fact]
    public async Task A_revocation_naming_a_claims_content_hash_in_one_batch_with_that_claim_names_no_claim()
    {
        var listener = new HoldingListener();
        await using var app = await RegistryApp.StartAsync(services: services => services.AddSingleton<ICommittedLogListener>(listener));
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var jws = signer.OptOut("https://artist.example/hash-named.jpg");
        var contentHash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(jws[..jws.LastIndexOf('.')])));
        var writer = app.Services.GetRequiredService<ClaimWriter>();

        // A first claim is committed and the writer held inside it, so that the next two are written in one batch.
        var first = client.PostAsync("/v1/claims", Jose(signer.OptOut("https://artist.example/first.jpg")));
        Assert.True(listener.Holding.Wait(TimeSpan.FromSeconds(30)), "The first claim was not committed within 30 s.");
        var claim = client.PostAsync("/v1/claims", Jose(jws));
        await Eventually.HoldsAsync(() => writer.Queued.Small == 1, "the claim queued");
        var revocation = client.PostAsync($"/v1/claims/{contentHash}/revocation", Jose(signer.Revocation(contentHash)));
        await Eventually.HoldsAsync(() => writer.Queued.Small == 2, "the revocation queued");
        listener.Release();

        Assert.Equal(HttpStatusCode.Created, (await first).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await claim).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await revocation).StatusCode);
        Assert.DoesNotContain(app.Logs, line => line.Contains("retrying them one at a time", StringComparison.Ordinal));
    }

    /// <summary>A re-encoded twin sent in the batch that reviews its claim is answered with the claim as the review left it.</summary>
    [Fact]
    public async Task A_twin_in_the_batch_that_reviews_its_claim_is_answered_with_the_reviewed_trust()
    {
        var listener = new HoldingListener();
        await using var app = await RegistryApp.StartAsync(services: services => services.AddSingleton<ICommittedLogListener>(listener));
        using var client = app.CreateClient();
        using var admin = app.CreateAdminClient();
        using var signer = new TestSigner();
        var jws = signer.OptOut("https://artist.example/reviewed.jpg");
        var writer = app.Services.GetRequiredService<ClaimWriter>();

        // The claim is committed and the writer held inside that commit, so that the review and the twin are written in one batch.
        var stored = client.PostAsync("/v1/claims", Jose(jws));
        Assert.True(listener.Holding.Wait(TimeSpan.FromSeconds(30)), "The claim was not committed within 30 s.");
        var id = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(jws)));
        var review = admin.PostAsync($"/v1/admin/claims/{id}/review", null);
        await Eventually.HoldsAsync(() => writer.Queued.Small == 1, "the review queued");
        var twin = client.PostAsync("/v1/claims", Jose(TestSigner.ReEncodeSignature(jws)));
        await Eventually.HoldsAsync(() => writer.Queued.Small == 2, "the twin queued");
        listener.Release();

        Assert.Equal(HttpStatusCode.Created, (await stored).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await review).StatusCode);
        var answer = await twin;
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var body = await answer.JsonAsync();
        Assert.Equal(id, body.GetProperty("id").GetString());
        Assert.Equal("reviewed", body.GetProperty("trust").GetString());
    }

    /// <summary>Holds the writer inside the first commit it is told of, until released, and notes each commit and catch-up in order.</summary>
    private sealed class HoldingListener : ICommittedLogListener
    {
        private readonly ManualResetEventSlim _released = new();
        private readonly ConcurrentQueue<string> _events = new();
        private int _batches;

        public ManualResetEventSlim Holding { get; } = new();

        public List<string> Events => [.. _events];

        public void OnCommitted(CommittedBatch batch)
        {
            _events.Enqueue($"committed {batch.FirstSeq}");
            if (Interlocked.Increment(ref _batches) == 1)
            {
                Holding.Set();
                _released.Wait(TimeSpan.FromSeconds(60));
            }
        }

        public void OnCallersAnswered() => _events.Enqueue("caught up");

        public void Release() => _released.Set();
    }
}

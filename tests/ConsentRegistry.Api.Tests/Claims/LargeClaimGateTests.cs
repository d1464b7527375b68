using System.Net;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Claims;

/// <summary>
/// Large claims are checked a few at a time (half the cores), on the gate's own threads of lower
/// priority; small ones never wait for that: while every checker is busy, an artist's claim is
/// still accepted and a large one waits its turn.
/// </summary>
public sealed class LargeClaimGateTests
{
    [Fact]
    public async Task A_small_claim_is_accepted_while_every_large_claim_checker_is_busy_and_a_large_one_waits_its_turn()
    {
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var gate = app.Services.GetRequiredService<LargeClaimGate>();
        using var release = new ManualResetEventSlim();
        using var started = new CountdownEvent(gate.Checkers);
        var held = Enumerable.Range(0, gate.Checkers).Select(_ => CheckAsync(gate, LargeClaimGate.LargeJwsChars, () =>
        {
            started.Signal();
            return release.Wait(TimeSpan.FromSeconds(60));
        }, CancellationToken.None)).ToList();
        Assert.True(started.Wait(TimeSpan.FromSeconds(30)), "the gate's threads did not take the held checks");

        var large = client.PostAsync("/v1/claims", Jose(signer.Sign(Large("waiting"))));
        var small = await client.PostAsync("/v1/claims", Jose(signer.OptOut("https://artist.example/portfolio/1.jpg")));
        Assert.Equal(HttpStatusCode.Created, small.StatusCode);
        await Task.Delay(500);
        Assert.False(large.IsCompleted, "the large claim was checked while every checker was held");

        release.Set();
        Assert.All(await Task.WhenAll(held), Assert.True);
        Assert.Equal(HttpStatusCode.Created, (await large).StatusCode);
    }

    [Fact]
    public void A_claim_is_large_by_its_length_and_every_claim_of_a_thousand_subjects_is_large()
    {
        using var signer = new TestSigner();
        var shortest = TestSigner.Claim(Enumerable.Range(0, 1_000).Select(_ => TestSigner.Subject("host", "a")), new JsonObject { ["train-ai"] = "n" });
        Assert.True(LargeClaimGate.IsLarge(signer.Sign(shortest).Length));
        Assert.False(LargeClaimGate.IsLarge(signer.Sign(TestSigner.Claim(
            Enumerable.Range(0, 20).Select(i => TestSigner.Url($"https://artist.example/portfolio/{i}.jpg")), new JsonObject { ["train-ai"] = "n" })).Length));
        Assert.True(LargeClaimGate.IsLarge(LargeClaimGate.LargeJwsChars));
        Assert.False(LargeClaimGate.IsLarge(LargeClaimGate.LargeJwsChars - 1));
        using var gate = new LargeClaimGate();
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), gate.Checkers);
    }

    [Fact]
    public async Task A_large_claim_is_checked_on_a_gate_thread_of_lower_priority_and_a_small_one_on_the_callers_thread()
    {
        using var gate = new LargeClaimGate(checkers: 1);
        var callerNice = ThreadNiceness.Current();
        var large = await CheckAsync(gate, LargeClaimGate.LargeJwsChars, () =>
            (Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name, Nice: ThreadNiceness.Current()), CancellationToken.None);
        Assert.False(large.IsThreadPoolThread);
        Assert.Equal("Large claim checker 1", large.Name);
        if (OperatingSystem.IsLinux())
        {
            Assert.NotNull(callerNice);
            Assert.Equal(Math.Min(19, callerNice.Value + ThreadNiceness.Step), large.Nice);
        }

        var caller = Environment.CurrentManagedThreadId;
        var small = CheckAsync(gate, LargeClaimGate.LargeJwsChars - 1, () => Environment.CurrentManagedThreadId, CancellationToken.None);
        Assert.True(small.IsCompleted);
        Assert.Equal(caller, await small);

        var failing = CheckAsync<int>(gate, LargeClaimGate.LargeJwsChars, () => throw new InvalidOperationException("refused"), CancellationToken.None);
        Assert.Equal("refused", (await Assert.ThrowsAsync<InvalidOperationException>(() => failing)).Message);
    }

    [Fact]
    public async Task A_large_claim_waits_for_a_free_checker_and_one_cancelled_while_it_waits_is_not_checked()
    {
        using var gate = new LargeClaimGate(checkers: 1);
        using var release = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        var busy = CheckAsync(gate, LargeClaimGate.LargeJwsChars, () =>
        {
            started.Set();
            return release.Wait(TimeSpan.FromSeconds(60));
        }, CancellationToken.None);
        Assert.True(started.Wait(TimeSpan.FromSeconds(30)), "the gate's thread did not take the first check");

        var checks = 0;
        using var giveUp = new CancellationTokenSource();
        var cancelled = CheckAsync(gate, LargeClaimGate.LargeJwsChars, () => Interlocked.Increment(ref checks), giveUp.Token);
        var waiting = CheckAsync(gate, LargeClaimGate.LargeJwsChars, () => Interlocked.Increment(ref checks), CancellationToken.None);
        await Task.Delay(200);
        Assert.Equal(0, Volatile.Read(ref checks));
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        release.Set();
        Assert.True(await busy);
        Assert.Equal(1, await waiting);
        Assert.Equal(1, Volatile.Read(ref checks));
    }

    [Fact]
    public async Task Large_claims_past_the_queued_characters_bound_are_refused_and_one_alone_is_always_taken()
    {
        using var gate = new LargeClaimGate(checkers: 1);
        using var release = new ManualResetEventSlim();
        var largest = Core.Claims.CompactJws.MaxLength;
        var queued = Enumerable.Range(0, (int)(LargeClaimGate.MaxQueuedChars / largest))
            .Select(_ => CheckAsync(gate, largest, () => release.Wait(TimeSpan.FromSeconds(60)), CancellationToken.None)).ToList();
        Assert.Equal(LargeClaimGate.MaxQueuedChars, gate.QueuedChars);

        Assert.Null(gate.TryCheckAsync(LargeClaimGate.LargeJwsChars, () => true, CancellationToken.None));
        Assert.True(gate.TryCheckAsync(LargeClaimGate.LargeJwsChars - 1, () => true, CancellationToken.None)!.IsCompletedSuccessfully); // small: never queued

        release.Set();
        Assert.All(await Task.WhenAll(queued), Assert.True);
        await WaitUntilAsync(() => gate.QueuedChars == 0);
        Assert.True(await CheckAsync(gate, largest, () => true, CancellationToken.None));
        using var alone = new LargeClaimGate(checkers: 1);
        Assert.True(await CheckAsync(alone, int.MaxValue, () => true, CancellationToken.None)); // larger than the bound, but nothing else queued
    }

    [Fact]
    public async Task A_large_claim_cancelled_while_it_queues_stops_counting_when_its_turn_comes()
    {
        using var gate = new LargeClaimGate(checkers: 1);
        using var release = new ManualResetEventSlim();
        var busy = CheckAsync(gate, LargeClaimGate.LargeJwsChars, () => release.Wait(TimeSpan.FromSeconds(60)), CancellationToken.None);
        using var giveUp = new CancellationTokenSource();
        var cancelled = CheckAsync(gate, LargeClaimGate.LargeJwsChars, () => true, giveUp.Token);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(2L * LargeClaimGate.LargeJwsChars, gate.QueuedChars); // still queued: its JWS is held until a checker takes it

        release.Set();
        Assert.True(await busy);
        await WaitUntilAsync(() => gate.QueuedChars == 0);
    }

    private static Task<T> CheckAsync<T>(LargeClaimGate gate, int jwsChars, Func<T> check, CancellationToken cancellationToken) =>
        gate.TryCheckAsync(jwsChars, check, cancellationToken) ?? throw new InvalidOperationException("refused: the gate's queue is full");

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 30 s");
            await Task.Delay(10);
        }
    }

    private static JsonObject Large(string name) =>
        TestSigner.Claim(Enumerable.Range(0, 1_500).Select(i => TestSigner.Url($"https://platform.example/{name}/{i}.jpg")), new JsonObject { ["train-ai"] = "n" });
}

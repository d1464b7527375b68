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
        var held = Enumerable.Range(0, gate.Checkers).Select(_ => gate.CheckAsync(LargeClaimGate.LargeJwsChars, () =>
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
        var large = await gate.CheckAsync(LargeClaimGate.LargeJwsChars, () =>
            (Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name, Nice: ThreadNiceness.Current()), CancellationToken.None);
        Assert.False(large.IsThreadPoolThread);
        Assert.Equal("Large claim checker 1", large.Name);
        if (OperatingSystem.IsLinux())
        {
            Assert.NotNull(callerNice);
            Assert.Equal(Math.Min(19, callerNice.Value + ThreadNiceness.Step), large.Nice);
        }

        var caller = Environment.CurrentManagedThreadId;
        var small = gate.CheckAsync(LargeClaimGate.LargeJwsChars - 1, () => Environment.CurrentManagedThreadId, CancellationToken.None);
        Assert.True(small.IsCompleted);
        Assert.Equal(caller, await small);

        var failing = gate.CheckAsync<int>(LargeClaimGate.LargeJwsChars, () => throw new InvalidOperationException("refused"), CancellationToken.None);
        Assert.Equal("refused", (await Assert.ThrowsAsync<InvalidOperationException>(() => failing)).Message);
    }

    [Fact]
    public async Task A_large_claim_waits_for_a_free_checker_and_one_cancelled_while_it_waits_is_not_checked()
    {
        using var gate = new LargeClaimGate(checkers: 1);
        using var release = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        var busy = gate.CheckAsync(LargeClaimGate.LargeJwsChars, () =>
        {
            started.Set();
            return release.Wait(TimeSpan.FromSeconds(60));
        }, CancellationToken.None);
        Assert.True(started.Wait(TimeSpan.FromSeconds(30)), "the gate's thread did not take the first check");

        var checks = 0;
        using var giveUp = new CancellationTokenSource();
        var cancelled = gate.CheckAsync(LargeClaimGate.LargeJwsChars, () => Interlocked.Increment(ref checks), giveUp.Token);
        var waiting = gate.CheckAsync(LargeClaimGate.LargeJwsChars, () => Interlocked.Increment(ref checks), CancellationToken.None);
        await Task.Delay(200);
        Assert.Equal(0, Volatile.Read(ref checks));
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        release.Set();
        Assert.True(await busy);
        Assert.Equal(1, await waiting);
        Assert.Equal(1, Volatile.Read(ref checks));
    }

    private static JsonObject Large(string name) =>
        TestSigner.Claim(Enumerable.Range(0, 1_500).Select(i => TestSigner.Url($"https://platform.example/{name}/{i}.jpg")), new JsonObject { ["train-ai"] = "n" });
}

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
/// priority; small ones never wait for that: while every large-claim slot is taken, an artist's
/// claim is still accepted and a large one waits.
/// </summary>
public sealed class LargeClaimGateTests
{
    [Fact]
    public async Task A_small_claim_is_accepted_while_every_large_claim_slot_is_taken_and_a_large_one_waits_for_a_slot()
    {
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var gate = app.Services.GetRequiredService<LargeClaimGate>();
        var held = new List<LargeClaimGate.Slot>();
        for (var i = 0; i < gate.Slots; i++)
        {
            held.Add(await gate.EnterAsync(CancellationToken.None));
        }

        var large = client.PostAsync("/v1/claims", Jose(signer.Sign(Large("waiting"))));
        var small = await client.PostAsync("/v1/claims", Jose(signer.OptOut("https://artist.example/portfolio/1.jpg")));
        Assert.Equal(HttpStatusCode.Created, small.StatusCode);
        await Task.Delay(500);
        Assert.False(large.IsCompleted, "the large claim was checked while every slot was held");

        held.ForEach(slot => slot.Dispose());

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
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), new LargeClaimGate().Slots);
    }

    [Fact]
    public async Task A_large_claim_is_checked_on_a_gate_thread_of_lower_priority_and_a_small_one_on_the_callers_thread()
    {
        using var gate = new LargeClaimGate(slots: 1);
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
    public async Task A_large_claim_waits_for_a_free_slot_before_it_is_checked()
    {
        using var gate = new LargeClaimGate(slots: 1);
        var checkedAt = 0;
        Task<int> large;
        using (await gate.EnterAsync(CancellationToken.None))
        {
            large = gate.CheckAsync(LargeClaimGate.LargeJwsChars, () => Interlocked.Increment(ref checkedAt), CancellationToken.None);
            await Task.Delay(200);
            Assert.Equal(0, Volatile.Read(ref checkedAt));
        }

        Assert.Equal(1, await large);
    }

    private static JsonObject Large(string name) =>
        TestSigner.Claim(Enumerable.Range(0, 1_500).Select(i => TestSigner.Url($"https://platform.example/{name}/{i}.jpg")), new JsonObject { ["train-ai"] = "n" });
}

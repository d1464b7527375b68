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
            held.Add(await gate.EnterAsync(LargeClaimGate.LargeSubjects, CancellationToken.None));
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
    public async Task Only_claims_of_a_thousand_subjects_or_an_unknown_count_take_a_slot()
    {
        using var gate = new LargeClaimGate(slots: 1);
        using (await gate.EnterAsync(LargeClaimGate.LargeSubjects, CancellationToken.None))
        {
            Assert.True(gate.EnterAsync(LargeClaimGate.LargeSubjects - 1, CancellationToken.None).IsCompleted);
            using var soon = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
            var unknown = gate.EnterAsync(null, soon.Token);
            var large = gate.EnterAsync(LargeClaimGate.LargeSubjects, soon.Token);
            Assert.False(unknown.IsCompleted);
            Assert.False(large.IsCompleted);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await unknown);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await large);
        }

        using var again = await gate.EnterAsync(5_000, CancellationToken.None); // released by the using above
        Assert.Equal(1, gate.Slots);
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), new LargeClaimGate().Slots);
    }

    [Fact]
    public async Task A_large_claim_is_checked_on_a_gate_thread_of_lower_priority_and_a_small_one_on_the_callers_thread()
    {
        using var gate = new LargeClaimGate(slots: 1);
        var callerNice = ThreadNiceness.Current();
        var large = await gate.CheckAsync(LargeClaimGate.LargeSubjects, () =>
            (Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name, Nice: ThreadNiceness.Current()), CancellationToken.None);
        Assert.False(large.IsThreadPoolThread);
        Assert.Equal("Large claim checker 1", large.Name);
        if (OperatingSystem.IsLinux())
        {
            Assert.NotNull(callerNice);
            Assert.Equal(Math.Min(19, callerNice.Value + ThreadNiceness.Step), large.Nice);
        }

        var caller = Environment.CurrentManagedThreadId;
        var small = gate.CheckAsync(LargeClaimGate.LargeSubjects - 1, () => Environment.CurrentManagedThreadId, CancellationToken.None);
        Assert.True(small.IsCompleted);
        Assert.Equal(caller, await small);

        var failing = gate.CheckAsync<int>(null, () => throw new InvalidOperationException("refused"), CancellationToken.None);
        Assert.Equal("refused", (await Assert.ThrowsAsync<InvalidOperationException>(() => failing)).Message);
    }

    [Fact]
    public async Task A_large_claim_waits_for_a_free_slot_before_it_is_checked()
    {
        using var gate = new LargeClaimGate(slots: 1);
        var checkedAt = 0;
        Task<int> large;
        using (await gate.EnterAsync(LargeClaimGate.LargeSubjects, CancellationToken.None))
        {
            large = gate.CheckAsync(LargeClaimGate.LargeSubjects, () => Interlocked.Increment(ref checkedAt), CancellationToken.None);
            await Task.Delay(200);
            Assert.Equal(0, Volatile.Read(ref checkedAt));
        }

        Assert.Equal(1, await large);
    }

    private static JsonObject Large(string name) =>
        TestSigner.Claim(Enumerable.Range(0, 1_500).Select(i => TestSigner.Url($"https://platform.example/{name}/{i}.jpg")), new JsonObject { ["train-ai"] = "n" });
}

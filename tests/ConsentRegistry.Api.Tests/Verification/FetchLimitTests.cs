using System.Net;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Verification;

/// <summary>
/// Registry:Verification:MaxConcurrentFetches bounds the fetches an instance makes at once, whatever
/// the addresses asking: past it a verification is refused before any request leaves the registry.
/// </summary>
public sealed class FetchLimitTests(OneFetchVerificationFixture registry) : IClassFixture<OneFetchVerificationFixture>
{
    [Fact]
    public async Task With_every_fetch_slot_taken_a_verification_gets_503_with_retry_after_and_no_fetch_then_succeeds_once_one_is_free()
    {
        using var first = new TestSigner();
        using var second = new TestSigner();
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        registry.Publish("slow.fetchlimit.test", first.Party);
        registry.Plain.Serve("slow.fetchlimit.test", async context =>
        {
            reached.TrySetResult();
            await release.Task;
            await context.Response.WriteAsJsonAsync(new { keys = new[] { first.Party } });
        });
        registry.Publish("waiting.fetchlimit.test", second.Party);

        var holding = registry.VerifyAsync(first.Party, "slow.fetchlimit.test");
        await reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var requests = registry.Plain.Requests;
        var refused = await registry.VerifyAsync(second.Party, "waiting.fetchlimit.test");
        var requestsWhileRefused = registry.Plain.Requests;
        release.TrySetResult();
        var held = await holding;
        var again = await registry.VerifyAsync(second.Party, "waiting.fetchlimit.test");

        var problem = await AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "verification-busy");
        Assert.Equal(TimeSpan.FromSeconds(5), refused.Headers.RetryAfter?.Delta);
        Assert.Contains("retry after 5 s", problem.GetProperty("detail").GetString());
        Assert.Equal(requests, requestsWhileRefused);
        Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }
}

/// <summary>Re-checks take at most half the fetch slots: a pass over slow hosts leaves verify calls one.</summary>
public sealed class RecheckFetchShareTests
{
    [Fact]
    public async Task A_recheck_pass_over_slow_hosts_leaves_a_fetch_slot_to_verify_calls()
    {
        await using var registry = await VerificationFixture.StartAsync<TwoFetchVerificationFixture>();
        using var artist = new TestSigner();
        string[] slow = ["slow-a.recheckshare.test", "slow-b.recheckshare.test"];
        foreach (var host in slow)
        {
            registry.Publish(host, artist.Party);
            Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, host)).StatusCode);
        }

        var reached = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        foreach (var host in slow)
        {
            registry.Plain.Serve(host, async context =>
            {
                Interlocked.Increment(ref reached);
                await release.Task;
                await context.Response.WriteAsJsonAsync(new { keys = new[] { artist.Party } });
            });
        }

        registry.Publish("new.recheckshare.test", artist.Party);
        var pass = registry.RecheckAllAsync();
        await Eventually.HoldsAsync(() => Volatile.Read(ref reached) >= 1, "a re-check fetching");
        await Task.Delay(TimeSpan.FromMilliseconds(300)); // time for a second re-check to take a slot, were it allowed one

        var verify = await registry.VerifyAsync(artist.Party, "new.recheckshare.test");
        var reachedWhileVerifying = Volatile.Read(ref reached);
        release.TrySetResult();
        var summary = await pass;

        Assert.Equal(HttpStatusCode.OK, verify.StatusCode);
        Assert.Equal(1, reachedWhileVerifying);
        Assert.Equal(2, summary.StillVerified);
    }
}

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

using System.Net;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Verification;

/// <summary>Registry:Verification:MaxHostsPerParty bounds the hosts (and so the re-checks) anyone can pile onto one party.</summary>
public sealed class HostCapTests(HostCapVerificationFixture registry) : IClassFixture<HostCapVerificationFixture>
{
    [Fact]
    public async Task A_party_at_its_host_cap_gets_too_many_hosts_without_a_fetch_and_keeps_its_hosts()
    {
        using var victim = new TestSigner();
        foreach (var host in new[] { "one.wildcard.test", "two.wildcard.test", "three.wildcard.test" })
        {
            registry.Publish(host, victim.Party);
        }

        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(victim.Party, "one.wildcard.test")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(victim.Party, "two.wildcard.test")).StatusCode);
        var requests = registry.Plain.Requests;

        var third = await registry.VerifyAsync(victim.Party, "three.wildcard.test");
        var requestsAfterThird = registry.Plain.Requests;
        var again = await registry.VerifyAsync(victim.Party, "two.wildcard.test");

        var problem = await AssertProblemAsync(third, HttpStatusCode.UnprocessableEntity, "too-many-hosts");
        Assert.Contains("MaxHostsPerParty", problem.GetProperty("detail").GetString());
        Assert.Equal(requests, requestsAfterThird);
        Assert.Null(await registry.Store.FindAsync(victim.Party, "three.wildcard.test", CancellationToken.None));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(["one.wildcard.test", "two.wildcard.test"], (await registry.Store.VerifiedHostsAsync(victim.Party, CancellationToken.None)).Order());
    }
}

using System.Net;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Platform;

/// <summary>The service as its own process, killed with SIGKILL right after acknowledging claims.</summary>
public sealed class CrashTests
{
    // This test writes claims as fast as one client can, far past the write rate and budgets
    // (tested in WriteBudgetTests), on hosts that do not exist (the worker stays off): what it
    // checks is durability.
    private static readonly Dictionary<string, string> DurabilityOnly = new()
    {
        ["Registry__WriteBudgets__Enabled"] = "false",
        ["Registry__Worker__Enabled"] = "false",
    };

    [Fact]
    public async Task Claims_acknowledged_with_201_survive_a_kill_9_right_after()
    {
        await using var database = await TestDatabase.CreateAsync();
        using var signer = new TestSigner();
        var acknowledged = new List<(string Id, long Seq)>();

        using (var service = await ServiceProcess.StartAsync(database, DurabilityOnly))
        {
            var posts = Enumerable.Range(0, 40).Select(async i =>
            {
                var jws = signer.OptOut($"https://crash.example/{i}.jpg");
                var response = await service.Client.PostAsync("/v1/claims", Jose(jws));
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
                return (TestSigner.IdOf(jws), (await response.JsonAsync()).GetProperty("seq").GetInt64());
            });
            acknowledged.AddRange(await Task.WhenAll(posts));
            service.Kill();
        }

        using var restarted = await ServiceProcess.StartAsync(database, DurabilityOnly);
        foreach (var (id, seq) in acknowledged)
        {
            var response = await restarted.Client.GetAsync($"/v1/claims/{id}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(seq, (await response.JsonAsync()).GetProperty("seq").GetInt64());
        }
    }
}

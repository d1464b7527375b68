using System.Net;
using System.Net.Http.Json;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Lookup;

/// <summary>
/// The promise that a replica sees a claim within a second, on two instances over one store. No other test of this
/// assembly runs beside it (<see cref="TimedBoundsCollection"/>): the second instance's index update runs on its
/// timer and the thread pool the other tests load, and a 2-core machine running them all at once can hold it past
/// the second.
/// </summary>
[Collection(TimedBoundsCollection.Name)]
public sealed class ReplicaVisibilityTests
{
    [Fact]
    public async Task A_claim_accepted_by_one_instance_is_seen_by_another_within_a_second()
    {
        await using var first = await RegistryApp.StartAsync();
        await using var second = new RegistryApp(first.Database);
        second.StartServer();
        await second.WaitUntilReadyAsync();
        using var writer = first.CreateClient();
        using var reader = second.CreateClient();
        using var signer = new TestSigner();
        Assert.Equal("unknown", await LookupInstancesTests.TrainAiAsync(reader, "https://replica.example/a.jpg"));

        Assert.Equal(HttpStatusCode.Created, (await writer.PostAsync("/v1/claims", Jose(signer.OptOut("https://replica.example/a.jpg")))).StatusCode);
        await WithinBound.SeenAsync(async () =>
        {
            var response = await (await reader.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { url = "https://replica.example/a.jpg" } } })).JsonAsync();
            var decision = response.GetProperty("results")[0].GetProperty("decision").GetProperty("train-ai").GetString();
            return (decision == "disallow", $"{decision} (seq {response.GetProperty("seq").GetInt64()})");
        }, TimeSpan.FromSeconds(1), "the claim on the other instance");
    }
}

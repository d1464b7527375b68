using System.Net;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;

namespace ConsentRegistry.Api.Tests.Fingerprints;

/// <summary>
/// The worker's slots are shared between hosts: a host gets as many at once as it may be asked
/// of at once (<c>Registry:Fetch:PerHostConcurrency</c>), and its other jobs wait in the queue,
/// not in the worker's slots, where they would hold up every other host's images.
/// </summary>
public sealed class HostShareTests : IAsyncLifetime
{
    private ImageServer _slow = null!;
    private ImageServer _slowOtherPort = null!;
    private ImageServer _quick = null!;

    public async Task InitializeAsync()
    {
        _slow = await ImageServer.StartAsync();
        _slowOtherPort = await ImageServer.StartAsync(); // the same host on another port
        _quick = await ImageServer.StartAsync(IPAddress.Parse("127.0.0.2")); // another host to the worker
    }

    public async Task DisposeAsync()
    {
        await _slow.DisposeAsync();
        await _slowOtherPort.DisposeAsync();
        await _quick.DisposeAsync();
    }

    /// <summary>
    /// A claim of 40 URLs on a host that answers none of them until the test ends (on two of its
    /// ports, which share the host's turns), then a claim of one image on another host: that image
    /// is fingerprinted while the first host's requests are still held. The worker (8 slots, 2 per
    /// host) used to take 8 of the first claim's jobs, 2 fetching and 6 waiting for the host's turn,
    /// and the other host's job waited for a slot until the first host's fetches ended (here never;
    /// in the world, 40 fetches of up to the timeout each). Counted by host and port, the two ports
    /// took 4 slots.
    /// </summary>
    [Fact]
    public async Task A_claim_of_many_urls_on_a_host_that_does_not_answer_holds_up_no_other_hosts_image()
    {
        var image = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slowUrls = Enumerable.Range(0, 40).Select(i => (i % 2 == 0 ? _slow : _slowOtherPort).Url($"/slow/{i}.jpg")).ToArray();
        for (var i = 0; i < slowUrls.Length; i++)
        {
            (i % 2 == 0 ? _slow : _slowOtherPort).Paths[$"/slow/{i}.jpg"] = async context =>
            {
                await answer.Task;
                context.Response.ContentType = "image/jpeg";
                await context.Response.Body.WriteAsync(image);
            };
        }

        _quick.Serve("/quick.jpg", image);
        var settings = new Dictionary<string, string?>(WorkerFixture.Settings) { ["Registry:Fetch:Timeout"] = "00:01:00" };
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, settings);
        app.StartServer();
        await app.WaitUntilReadyAsync();
        using var client = app.CreateClient();
        using var artist = new TestSigner();

        var many = await client.ClaimAsync(artist.Sign(TestSigner.Claim(slowUrls.Select(TestSigner.Url), new JsonObject { ["train-ai"] = "n" })));
        await WaitForAsync(() => _slow.MaxInFlight + _slowOtherPort.MaxInFlight == 2, "the slow host's first two requests");
        var one = await client.ClaimAsync(artist.OptOut(_quick.Url("/quick.jpg")));

        var quick = Assert.Single(await client.SettledFingerprintsAsync(one));
        Assert.Equal("done", quick.GetProperty("status").GetString());
        Assert.False(answer.Task.IsCompleted);
        Assert.Equal(2, _slow.MaxInFlight + _slowOtherPort.MaxInFlight); // the slow host was never asked more than its share
        Assert.Equal(2, await database.CountAsync(
            "SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @many AND lease_owner IS NOT NULL", new { many })); // the rest wait in the queue
        answer.SetResult();
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Waited 30 s for {what}.");
            await Task.Delay(20);
        }
    }
}

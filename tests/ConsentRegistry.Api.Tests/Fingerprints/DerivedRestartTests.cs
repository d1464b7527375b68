using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Fingerprints;

/// <summary>Derived fingerprints live in the log: an instance started later builds them into its index like claims.</summary>
public sealed class DerivedRestartTests
{
    [Fact]
    public async Task An_instance_started_after_the_worker_ran_matches_the_derived_fingerprints_and_a_revocation_still_reaches_them()
    {
        await using var images = await ImageServer.StartAsync();
        var image = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        images.Serve("/a.jpg", image);
        await using var database = await TestDatabase.CreateAsync();
        using var artist = new TestSigner();
        string claim;
        await using (var first = new RegistryApp(database, new Dictionary<string, string?>(WorkerFixture.Settings)))
        {
            first.StartServer();
            await first.WaitUntilReadyAsync();
            using var client = first.CreateClient();
            claim = await client.ClaimAsync(artist.OptOut(images.Url("/a.jpg")));
            Assert.Equal("done", Assert.Single(await client.SettledFingerprintsAsync(claim)).GetProperty("status").GetString());
        }

        await using var second = new RegistryApp(database);
        second.StartServer();
        await second.WaitUntilReadyAsync();
        using var restarted = second.CreateClient();
        var sha256 = new JsonObject { ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(image)) };

        var match = Assert.Single((await restarted.LookupItemsAsync(sha256))[0].GetProperty("matches").EnumerateArray());
        Assert.Equal((claim, images.Url("/a.jpg")), (match.GetProperty("claim").GetString(), match.GetProperty("derived_from").GetString()));

        Assert.Equal(System.Net.HttpStatusCode.Created, (await restarted.PostAsync($"/v1/claims/{claim}/revocation", Jose(artist.Revocation(claim)))).StatusCode);
        Assert.Empty((await restarted.LookupItemsAsync(sha256))[0].GetProperty("matches").EnumerateArray());
    }
}

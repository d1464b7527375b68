using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Fingerprints;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Matching;

/// <summary>
/// A rolling deploy that adds a subject kind: instances of the newer version store claims with it
/// while older ones still read the log. An older instance skips the kind it does not know (as its
/// matching index would) and goes on: the claim's other subjects still match, and later entries are
/// applied. A stored line it could not read used to stop every log pass at that claim, for good.
/// </summary>
public sealed class UnknownSubjectKindTests
{
    [Fact]
    public async Task A_claim_stored_with_a_kind_this_version_does_not_know_is_read_without_it()
    {
        await using var database = await TestDatabase.CreateAsync();
        using var signer = new TestSigner();
        var jws = signer.Sign(TestSigner.Claim([TestSigner.Url("https://newer.example/a.jpg")], new JsonObject { ["train-ai"] = "n" }));
        await using (var writer = new RegistryApp(database))
        {
            writer.StartServer();
            using var client = writer.CreateClient();
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(jws))).StatusCode);
        }

        // As a newer version would have stored it: a subject of a kind added after this one.
        await database.ExecuteAsync("UPDATE claims SET subjects = 'watermark\tcafe\n' || subjects WHERE id = @id", new { id = TestSigner.IdOf(jws) });

        await using var reader = new RegistryApp(database);
        reader.StartServer();
        await reader.WaitUntilReadyAsync();
        using var lookups = reader.CreateClient();
        Assert.Equal(HttpStatusCode.Created, (await lookups.PostAsync("/v1/claims", Jose(signer.OptOut("https://newer.example/b.jpg")))).StatusCode);

        var results = (await (await lookups.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { url = "https://newer.example/a.jpg" }, new { url = "https://newer.example/b.jpg" } } })).JsonAsync()).GetProperty("results");
        Assert.Equal("disallow", results[0].GetProperty("decision").GetProperty("train-ai").GetString());
        Assert.Equal("disallow", results[1].GetProperty("decision").GetProperty("train-ai").GetString());
        var stored = await (await lookups.GetAsync($"/v1/claims/{TestSigner.IdOf(jws)}")).JsonAsync();
        Assert.Equal(["url"], stored.GetProperty("subjects").EnumerateArray().Select(s => s.GetProperty("kind").GetString()));
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Auth;

/// <summary>
/// API keys not yet found valid, per client address (Registry:Auth:UnknownKeysPerMinutePerAddress):
/// each costs a store read before any rate limit, so each takes a token first, and with none left
/// it is refused with 429 without asking the store; a key once found valid takes none.
/// </summary>
public sealed class UnknownKeyLimitTests
{
    [Fact]
    public async Task Past_its_unknown_keys_an_address_gets_429_for_keys_not_yet_found_valid_and_keys_found_valid_still_work()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Auth:UnknownKeysPerMinutePerAddress"] = "3" });
        using var admin = app.CreateAdminClient();
        var (usedId, used) = await CreateKeyAsync(admin, "used");
        var (_, fresh) = await CreateKeyAsync(admin, "fresh");
        Assert.Equal(HttpStatusCode.OK, (await LookupAsync(app, used)).StatusCode); // its first use here takes one of the 3 tokens

        for (var i = 0; i < 2; i++)
        {
            await AssertProblemAsync(await LookupAsync(app, $"crk_{i:D16}_unknown"), HttpStatusCode.Unauthorized, "unauthorized");
        }

        var refused = await LookupAsync(app, "crk_0000000000000003_unknown");
        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "too-many-requests");
        Assert.Equal("20", Assert.Single(refused.Headers.GetValues("Retry-After"))); // 3 keys a minute: one refills in 20 s

        // Valid, but never used here: refused without a store read. Found valid before, or the bootstrap key: answered.
        await AssertProblemAsync(await LookupAsync(app, fresh), HttpStatusCode.TooManyRequests, "too-many-requests");
        Assert.Equal(HttpStatusCode.OK, (await LookupAsync(app, used)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await LookupAsync(app, RegistryApp.AdminKey)).StatusCode);

        // Revoked, it is held back again as any key not valid (an abuser keeps sending a leaked key).
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/admin/api-keys/{usedId}")).StatusCode);
        await AssertProblemAsync(await LookupAsync(app, used), HttpStatusCode.TooManyRequests, "too-many-requests");
    }

    [Fact]
    public async Task Unknown_keys_sent_at_once_take_their_tokens_before_the_store_is_read()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Auth:UnknownKeysPerMinutePerAddress"] = "1" });
        app.StartServer();

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => LookupAsync(app, $"crk_{i:D16}_unknown")));

        // One token: one key is asked of the store (401), the others are refused first (429), however many were in flight.
        Assert.Equal(1, answers.Count(a => a.StatusCode == HttpStatusCode.Unauthorized));
        Assert.Equal(19, answers.Count(a => a.StatusCode == HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task A_limit_out_of_range_stops_the_start_with_a_message_saying_how_to_fix_it()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Auth:UnknownKeysPerMinutePerAddress"] = "0" });

        var error = Assert.ThrowsAny<Exception>(app.StartServer);

        Assert.Contains("Registry:Auth:UnknownKeysPerMinutePerAddress is 0; use 1 to 60,000", error.ToString());
    }

    private static async Task<(string Id, string Key)> CreateKeyAsync(HttpClient admin, string name)
    {
        var response = await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.JsonAsync();
        return (body.GetProperty("id").GetString()!, body.GetProperty("key").GetString()!);
    }

    private static async Task<HttpResponseMessage> LookupAsync(RegistryApp app, string key)
    {
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {key}");
        return await client.PostAsync("/v1/lookup", new StringContent("""{"items":[{"url":"https://a.example/"}]}""", Encoding.UTF8, "application/json"));
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ConsentRegistry.Api.Auth;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;

namespace ConsentRegistry.Api.Tests.Auth;

/// <summary>Operators list and revoke API keys; a revoked key stops working on every instance.</summary>
public sealed class ApiKeyManagementTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private static readonly object LookupBody = new { items = new[] { new { url = "https://keys.example/a.jpg" } } };

    private readonly RegistryApp _app = registry.App;

    private static async Task<(string Id, string Key)> CreateKeyAsync(RegistryApp app, string name, string role = "client")
    {
        using var admin = app.CreateAdminClient();
        var response = await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name, role });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.JsonAsync();
        return (body.GetProperty("id").GetString()!, body.GetProperty("key").GetString()!);
    }

    private static HttpClient ClientWithKey(RegistryApp app, string key)
    {
        var client = app.CreateClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {key}");
        return client;
    }

    /// <summary>Every stored key, walking the pages.</summary>
    private static async Task<List<JsonElement>> ListAllAsync(RegistryApp app, int limit = 500)
    {
        using var admin = app.CreateAdminClient();
        var keys = new List<JsonElement>();
        string? after = null;
        do
        {
            var response = await admin.GetAsync($"/v1/admin/api-keys?limit={limit}" + (after is null ? "" : $"&after={after}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await response.JsonAsync();
            keys.AddRange(body.GetProperty("keys").EnumerateArray());
            after = body.GetProperty("next_after").GetString();
        }
        while (after is not null);

        return keys;
    }

    private static async Task<JsonElement> ListedAsync(RegistryApp app, string id) =>
        Assert.Single(await ListAllAsync(app), k => k.GetProperty("id").GetString() == id);

    [Fact]
    public async Task Listing_keys_shows_each_keys_facts_but_never_the_key_or_its_hash()
    {
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var (clientId, clientKey) = await CreateKeyAsync(_app, "LAION filter job");
        var (adminId, adminKey) = await CreateKeyAsync(_app, "second operator", "admin");
        using var admin = _app.CreateAdminClient();

        var response = await admin.GetAsync("/v1/admin/api-keys?limit=500");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var raw = await response.Content.ReadAsStringAsync();
        foreach (var secret in new[] { clientKey, adminKey, ApiKeyStore.Hash(clientKey), ApiKeyStore.Hash(adminKey), clientKey.Split('_', 3)[2] })
        {
            Assert.DoesNotContain(secret, raw, StringComparison.Ordinal);
        }

        var keys = JsonDocument.Parse(raw).RootElement.GetProperty("keys").EnumerateArray().ToList();
        var client = Assert.Single(keys, k => k.GetProperty("id").GetString() == clientId);
        Assert.Equal("LAION filter job", client.GetProperty("name").GetString());
        Assert.Equal("client", client.GetProperty("role").GetString());
        Assert.InRange(client.GetProperty("created_at").GetInt64(), before, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Equal(JsonValueKind.Null, client.GetProperty("last_used_at").ValueKind);
        Assert.Equal(JsonValueKind.Null, client.GetProperty("revoked_at").ValueKind);
        Assert.Equal(new[] { "id", "name", "role", "created_at", "last_used_at", "revoked_at", "write_budget" }, client.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Null, client.GetProperty("write_budget").ValueKind); // the default budget for keys
        Assert.Equal("admin", Assert.Single(keys, k => k.GetProperty("id").GetString() == adminId).GetProperty("role").GetString());
    }

    [Fact]
    public async Task The_key_list_is_paged_in_id_order_and_bad_paging_is_a_400_naming_each_field()
    {
        var created = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            created.Add((await CreateKeyAsync(_app, $"paged {i}")).Id);
        }

        var ids = (await ListAllAsync(_app, limit: 1)).Select(k => k.GetProperty("id").GetString()!).ToList();

        Assert.Superset(created.ToHashSet(), ids.ToHashSet());
        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
        Assert.Equal(ids.Distinct().Count(), ids.Count);
        using var admin = _app.CreateAdminClient();
        var bad = await admin.GetAsync("/v1/admin/api-keys?after=not-a-key-id&limit=501");
        await TestHttp.AssertProblemAsync(bad, HttpStatusCode.BadRequest, "invalid-query");
        var errors = (await bad.JsonAsync()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("after", out _));
        Assert.True(errors.TryGetProperty("limit", out _));
    }

    [Fact]
    public async Task Using_a_key_records_its_last_use_but_each_instance_writes_it_at_most_once_a_minute()
    {
        var (id, key) = await CreateKeyAsync(_app, "last use");
        using var client = ClientWithKey(_app, key);
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/v1/lookup", LookupBody)).StatusCode);

        var firstUse = (await ListedAsync(_app, id)).GetProperty("last_used_at").GetInt64();
        Assert.InRange(firstUse, before, DateTimeOffset.UtcNow.ToUnixTimeSeconds());

        // Within the minute, more requests write nothing: a value planted in the store stays.
        await using (var connection = await _app.Services.GetRequiredService<RegistryDatabase>().OpenConnectionAsync(default))
        {
            await connection.ExecuteAsync("UPDATE api_keys SET last_used_at = 1000 WHERE id = @id", new { id });
        }

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/v1/lookup", LookupBody)).StatusCode);
        }

        Assert.Equal(1000, (await ListedAsync(_app, id)).GetProperty("last_used_at").GetInt64());
    }

    [Fact]
    public async Task A_revoked_key_is_refused_at_once_by_the_instance_that_revoked_it_and_the_list_shows_when()
    {
        var (id, key) = await CreateKeyAsync(_app, "to revoke", "admin");
        using var revokedAdmin = ClientWithKey(_app, key);
        Assert.Equal(HttpStatusCode.OK, (await revokedAdmin.GetAsync("/v1/admin/api-keys?limit=1")).StatusCode); // now cached
        using var admin = _app.CreateAdminClient();
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        var revoke = await admin.DeleteAsync($"/v1/admin/api-keys/{id}");

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        var refused = await revokedAdmin.GetAsync("/v1/admin/api-keys?limit=1");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, (await revokedAdmin.PostAsJsonAsync("/v1/lookup", LookupBody)).StatusCode);
        Assert.InRange((await ListedAsync(_app, id)).GetProperty("revoked_at").GetInt64(), before, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var logged = Assert.Single(_app.Logs, line => line.Contains($"Revoked API key {id}", StringComparison.Ordinal));
        Assert.DoesNotContain(key.Split('_', 3)[2], logged, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_read_of_the_key_that_ends_after_its_revocation_cannot_put_it_back()
    {
        var (id, key) = await CreateKeyAsync(_app, "read in flight", "admin");
        using var revokedAdmin = ClientWithKey(_app, key);
        Assert.Equal(HttpStatusCode.OK, (await revokedAdmin.GetAsync("/v1/admin/api-keys?limit=1")).StatusCode);
        using var admin = _app.CreateAdminClient();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/admin/api-keys/{id}")).StatusCode);

        // What a read of the key begun before the revocation leaves in the caches when it ends after
        // it: the key as valid for the read cache's quarter second and as the last answer through an
        // outage of the store.
        var cache = _app.Services.GetRequiredService<IMemoryCache>();
        var keyHash = ApiKeyStore.Hash(key);
        var before = new ApiKeyInfo(id, "read in flight", ApiKeyRoles.Admin);
        var forAMinute = new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(1), Size = 1 };
        _ = cache.Set(ApiKeyStore.ReadKey(keyHash), Task.FromResult<ApiKeyInfo?>(before), forAMinute);
        cache.Set(ApiKeyStore.LastAnswerKey(keyHash), new ApiKeyStore.LastAnswer(before), forAMinute);

        Assert.Equal(HttpStatusCode.Unauthorized, (await revokedAdmin.GetAsync("/v1/admin/api-keys?limit=1")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await revokedAdmin.PostAsJsonAsync("/v1/lookup", LookupBody)).StatusCode);
        Assert.False(_app.Services.GetRequiredService<ApiKeyStore>().WasFoundValid(key));
    }

    [Fact]
    public async Task Revoking_a_revoked_key_is_204_again_and_an_unknown_or_malformed_id_is_a_problem()
    {
        var (id, _) = await CreateKeyAsync(_app, "twice");
        using var admin = _app.CreateAdminClient();
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/admin/api-keys/{id}")).StatusCode);
        var revokedAt = (await ListedAsync(_app, id)).GetProperty("revoked_at").GetInt64();

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/admin/api-keys/{id}")).StatusCode);

        Assert.Equal(revokedAt, (await ListedAsync(_app, id)).GetProperty("revoked_at").GetInt64());
        await TestHttp.AssertProblemAsync(await admin.DeleteAsync("/v1/admin/api-keys/0123456789abcdef"), HttpStatusCode.NotFound, "api-key-not-found");
        await TestHttp.AssertProblemAsync(await admin.DeleteAsync("/v1/admin/api-keys/NOT-AN-ID"), HttpStatusCode.BadRequest, "invalid-key-id");
    }

    [Fact]
    public async Task The_bootstrap_admin_key_cannot_be_revoked_through_the_api_and_the_problem_says_where_it_lives()
    {
        using var admin = _app.CreateAdminClient();

        var response = await admin.DeleteAsync($"/v1/admin/api-keys/{ApiKeyAuthenticationHandler.BootstrapKeyId}");

        await TestHttp.AssertProblemAsync(response, HttpStatusCode.Conflict, "bootstrap-key-not-revocable");
        Assert.Contains("Registry:Auth:AdminKey", (await response.JsonAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/v1/admin/api-keys?limit=1")).StatusCode);
    }

    [Fact]
    public async Task Listing_and_revoking_keys_and_removing_hosts_need_an_admin()
    {
        var (victim, _) = await CreateKeyAsync(_app, "victim");
        var (_, clientKey) = await CreateKeyAsync(_app, "not an operator");
        using var asClient = ClientWithKey(_app, clientKey);
        using var anonymous = _app.CreateClient();
        var hostPath = $"/v1/admin/parties/{new string('A', 43)}/domains/artist.example";

        foreach (var (client, status) in new[] { (asClient, HttpStatusCode.Forbidden), (anonymous, HttpStatusCode.Unauthorized) })
        {
            await AssertRefusedAsync(await client.GetAsync("/v1/admin/api-keys"), status);
            await AssertRefusedAsync(await client.DeleteAsync($"/v1/admin/api-keys/{victim}"), status);
            await AssertRefusedAsync(await client.DeleteAsync(hostPath), status);
        }

        Assert.Equal(JsonValueKind.Null, (await ListedAsync(_app, victim)).GetProperty("revoked_at").ValueKind);
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("\"keys\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_revoked_on_one_instance_is_refused_by_another_sharing_the_store_within_a_second()
    {
        await using var first = await RegistryApp.StartAsync();
        await using var second = new RegistryApp(first.Database);
        second.StartServer();
        await second.WaitUntilReadyAsync();
        var (id, key) = await CreateKeyAsync(first, "replicated");
        using var onSecond = ClientWithKey(second, key);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await onSecond.PostAsJsonAsync("/v1/lookup", LookupBody)).StatusCode); // cached there
        }

        using (var admin = first.CreateAdminClient())
        {
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/admin/api-keys/{id}")).StatusCode);
        }

        await WithinBound.SeenAsync(async () =>
        {
            using var response = await onSecond.PostAsJsonAsync("/v1/lookup", LookupBody);
            return (response.StatusCode == HttpStatusCode.Unauthorized, ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }, TimeSpan.FromSeconds(1), "the revoked key on the other instance");
    }
}

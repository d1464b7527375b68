using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Auth;

public sealed class ApiKeyTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly RegistryApp _app = registry.App;

    [Fact]
    public async Task The_bootstrap_admin_key_creates_an_api_key_that_is_shown_once_and_stored_only_as_a_hash()
    {
        using var admin = _app.CreateAdminClient();

        var response = await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "LAION filter job" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.JsonAsync();
        var key = body.GetProperty("key").GetString()!;
        Assert.StartsWith("crk_", key);
        Assert.Equal("client", body.GetProperty("role").GetString());
        await using var connection = await _app.Services.GetRequiredService<RegistryDatabase>().OpenConnectionAsync(default);
        var stored = (await connection.QueryAsync<(string Id, string KeyHash, string Name)>("SELECT id, key_hash, name FROM api_keys")).ToList();
        var row = Assert.Single(stored, r => r.Id == body.GetProperty("id").GetString());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key))), row.KeyHash);
        Assert.DoesNotContain(stored, r => r.KeyHash.Contains(key, StringComparison.Ordinal) || r.Name.Contains(key, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_created_admin_key_can_create_keys_but_a_client_key_gets_403()
    {
        using var admin = _app.CreateAdminClient();
        var adminKey = (await (await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "second admin", role = "admin" })).JsonAsync()).GetProperty("key").GetString();
        var clientKey = (await (await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "builder" })).JsonAsync()).GetProperty("key").GetString();

        using var asAdmin = _app.CreateClient();
        asAdmin.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {adminKey}");
        using var asClient = _app.CreateClient();
        asClient.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {clientKey}");

        Assert.Equal(HttpStatusCode.Created, (await asAdmin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "third" })).StatusCode);
        var forbidden = await asClient.PostAsJsonAsync("/v1/admin/api-keys", new { name = "sneaky", role = "admin" });
        await AssertProblemAsync(forbidden, HttpStatusCode.Forbidden, "forbidden");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("API crk_0000000000000000_wrong")]
    [InlineData("API ")]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("Bearer not-a-token")]
    public async Task Admin_endpoints_without_a_valid_key_get_401_problem_json(string? authorization)
    {
        using var client = _app.CreateClient();
        if (authorization is not null)
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);
        }

        var response = await client.PostAsJsonAsync("/v1/admin/api-keys", new { name = "x" });

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task A_key_request_with_bad_fields_names_each_of_them()
    {
        using var admin = _app.CreateAdminClient();

        var response = await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "", role = "owner" });

        var errors = (await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation-failed")).GetProperty("errors");
        Assert.True(errors.TryGetProperty("name", out _));
        Assert.True(errors.TryGetProperty("role", out _));
    }

    [Theory]
    [InlineData("{\"name\": ", "invalid-body", "body")]
    [InlineData("not json", "invalid-body", "body")]
    [InlineData("{\"name\": 5}", "invalid-body", "name")]
    [InlineData("{\"name\": \"job\", \"role\": [\"admin\"]}", "invalid-body", "role")]
    [InlineData("", "missing-body", null)]
    public async Task A_malformed_key_request_gets_400_problem_json_in_the_services_words_naming_the_field(string body, string code, string? field)
    {
        using var admin = _app.CreateAdminClient();

        var response = await admin.PostAsync("/v1/admin/api-keys", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, code);
        if (field is not null)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        }

        Assert.DoesNotContain("CreateApiKeyRequest", problem.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("System.", problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_request_of_another_media_type_gets_415_problem_json_without_the_frameworks_words()
    {
        using var admin = _app.CreateAdminClient();

        var response = await admin.PostAsync("/v1/admin/api-keys", new StringContent("{\"name\": \"job\"}", Encoding.UTF8, "text/plain"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        Assert.DoesNotContain("Expected a supported JSON media type", problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_operator_review_raises_a_claim_to_reviewed_with_a_new_seq()
    {
        using var admin = _app.CreateAdminClient();
        using var signer = new TestSigner();
        var created = await (await admin.PostAsync("/v1/claims", Jose(signer.OptOut("https://review.example/a.jpg")))).JsonAsync();
        var id = created.GetProperty("id").GetString();

        var review = await admin.PostAsync($"/v1/admin/claims/{id}/review", null);
        var unknown = await admin.PostAsync($"/v1/admin/claims/{new string('0', 64)}/review", null);

        Assert.Equal(HttpStatusCode.OK, review.StatusCode);
        Assert.True((await review.JsonAsync()).GetProperty("seq").GetInt64() > created.GetProperty("seq").GetInt64());
        Assert.Equal("reviewed", (await (await admin.GetAsync($"/v1/claims/{id}")).JsonAsync()).GetProperty("trust").GetString());
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }
}

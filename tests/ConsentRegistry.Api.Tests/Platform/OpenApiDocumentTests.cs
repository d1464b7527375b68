using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;

namespace ConsentRegistry.Api.Tests.Platform;

/// <summary>
/// openapi/v1.json is the committed contract. This test fails when the running app's document
/// drifts from it; after an intended change, regenerate with
/// <c>UPDATE_OPENAPI=1 scripts/test.sh sqlite -- --filter OpenApi</c> and review the diff.
/// </summary>
public sealed class OpenApiDocumentTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private static readonly string CommittedPath = Path.Combine(RepositoryPaths.Root, "openapi", "v1.json");

    [Fact]
    public async Task The_committed_openapi_document_matches_the_running_app()
    {
        var served = JsonNode.Parse(await registry.Client.GetStringAsync("/swagger/v1/swagger.json"))!;
        var formatted = served.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        if (Environment.GetEnvironmentVariable("UPDATE_OPENAPI") == "1")
        {
            await File.WriteAllTextAsync(CommittedPath, formatted);
        }

        Assert.True(File.Exists(CommittedPath), $"{CommittedPath} is missing; run with UPDATE_OPENAPI=1 to create it.");
        var committed = JsonNode.Parse(await File.ReadAllTextAsync(CommittedPath))!;
        Assert.True(JsonNode.DeepEquals(committed, served),
            "openapi/v1.json differs from the running app's document. If the change is intended, run "
            + "UPDATE_OPENAPI=1 scripts/test.sh sqlite -- --filter OpenApi and commit the file.");
    }

    [Theory]
    [InlineData("/v1/claims")]
    [InlineData("/v1/claims/{id}/revocation")]
    public async Task A_jose_body_is_described_as_the_compact_jws_string_and_a_json_body_as_the_envelope(string path)
    {
        var served = JsonNode.Parse(await registry.Client.GetStringAsync("/swagger/v1/swagger.json"))!;
        var content = served["paths"]![path]!["post"]!["requestBody"]!["content"]!;

        Assert.Equal("string", content["application/jose"]!["schema"]!["type"]!.GetValue<string>());
        Assert.Equal("#/components/schemas/JwsEnvelope", content["application/json"]!["schema"]!["$ref"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("ClaimResponse", "id", false)]
    [InlineData("LookupMatch", "claim", false)]
    [InlineData("LookupMatch", "derived_from", true)]
    [InlineData("LookupItem", "url", true)]
    public async Task A_field_is_marked_nullable_only_where_the_code_lets_it_be_null(string schema, string field, bool nullable)
    {
        var served = JsonNode.Parse(await registry.Client.GetStringAsync("/swagger/v1/swagger.json"))!;
        var property = served["components"]!["schemas"]![schema]!["properties"]![field]!;

        Assert.Equal(nullable, property["nullable"]?.GetValue<bool>() ?? false);
    }

    [Fact]
    public async Task A_lookup_answer_uses_only_the_words_the_document_lists_for_its_decision_and_matches()
    {
        using var signer = new TestSigner();
        var claim = TestSigner.Claim([TestSigner.Url("https://words.example/a.jpg")], new JsonObject { ["train-ai"] = "n", ["search"] = "y" });
        Assert.Equal(HttpStatusCode.Created, (await registry.Client.PostAsync("/v1/claims", TestHttp.Jose(signer.Sign(claim)))).StatusCode);
        var served = JsonNode.Parse(await registry.Client.GetStringAsync("/swagger/v1/swagger.json"))!;
        var schemas = served["components"]!["schemas"]!;

        var response = await registry.Client.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { url = "https://words.example/a.jpg" } } });

        var result = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["results"]![0]!;
        var decision = schemas["LookupResult"]!["properties"]!["decision"]!;
        var categories = decision["properties"]!.AsObject();
        Assert.Equal(categories.Select(c => c.Key).Order(), result["decision"]!.AsObject().Select(c => c.Key).Order());
        Assert.Equal(categories.Select(c => c.Key).Order(), decision["required"]!.AsArray().Select(c => c!.GetValue<string>()).Order());
        foreach (var (category, word) in result["decision"]!.AsObject())
        {
            Assert.Contains(word!.GetValue<string>(), Words(categories[category]!));
        }

        Assert.Equal(["allow", "disallow", "unknown"], Words(categories["tdm"]!).Order());
        var match = result["matches"]![0]!;
        Assert.Contains(match["by"]!.GetValue<string>(), Words(schemas["LookupMatch"]!["properties"]!["by"]!));
        Assert.Contains(match["trust"]!.GetValue<string>(), Words(schemas["LookupMatch"]!["properties"]!["trust"]!));
    }

    private static string[] Words(JsonNode schema) => [.. schema["enum"]!.AsArray().Select(word => word!.GetValue<string>())];

    [Fact]
    public async Task Swagger_ui_is_served()
    {
        var html = await registry.Client.GetStringAsync("/swagger/index.html");

        Assert.Contains("swagger", html, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("/swagger/index.html")]
    [InlineData("/swagger/index.js")]
    [InlineData("/swagger/swagger-ui-bundle.js")]
    [InlineData("/swagger")]
    public async Task Swagger_ui_is_served_with_a_strict_content_security_policy_and_no_framing(string path)
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = registry.Client.BaseAddress };

        var response = await client.GetAsync(path);

        Assert.True(response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.Found, $"{path}: {(int)response.StatusCode}");
        var csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self';", csp);
        Assert.DoesNotContain("unsafe", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
    }

    [Fact]
    public async Task Opening_swagger_in_a_browser_lands_on_the_swagger_ui()
    {
        var response = await registry.Client.GetAsync("/swagger");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("/swagger/index.html", response.RequestMessage?.RequestUri?.AbsolutePath);
        Assert.Contains("id=\"swagger-ui\"", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/swagger", "swagger/index.html")]
    [InlineData("/swagger/", "index.html")]
    [InlineData("/SWAGGER", "swagger/index.html")]
    public async Task Swagger_redirects_to_the_ui_with_a_page_that_links_to_it_rather_than_an_empty_body(string path, string target)
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = registry.Client.BaseAddress };

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(target, response.Headers.Location?.OriginalString);
        Assert.Equal("/swagger/index.html", new Uri(new Uri(client.BaseAddress!, path), response.Headers.Location!).AbsolutePath);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"<a href=\"{target}\">", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_post_to_swagger_is_not_redirected_but_not_found()
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = registry.Client.BaseAddress };

        var response = await client.PostAsync("/swagger", new StringContent(""));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Null(response.Headers.Location);
    }
}

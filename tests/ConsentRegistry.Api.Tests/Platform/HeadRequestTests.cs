using System.Net;
using ConsentRegistry.Api.Tests.Infrastructure;

namespace ConsentRegistry.Api.Tests.Platform;

/// <summary>
/// HEAD wherever GET exists: the same status and content type as the GET, and no body.
/// </summary>
public sealed class HeadRequestTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    [Theory]
    [InlineData("/v1/claims/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [InlineData("/v1/claims/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/near-duplicates")]
    [InlineData("/v1/claims/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/fingerprints")]
    [InlineData("/v1/parties/{party}/claims")]
    [InlineData("/v1/parties/{party}/domains")]
    [InlineData("/v1/registry-key")]
    [InlineData("/v1/snapshots/latest")]
    [InlineData("/v1/admin/api-keys")]
    [InlineData("/v1/admin/conflicts")]
    [InlineData("/v1/policy?url=https://head.example/a.jpg")]
    [InlineData("/v1/hosts/head.example/robots.txt")]
    [InlineData("/health/ready")]
    [InlineData("/")]
    [InlineData("/v1/nothing-here")]
    public async Task Head_answers_as_get_does_without_a_body(string path)
    {
        using var signer = new TestSigner();
        using var admin = registry.App.CreateAdminClient();
        path = path.Replace("{party}", signer.Party, StringComparison.Ordinal);

        using var get = await admin.GetAsync(path);
        using var head = await admin.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));

        Assert.Equal(get.StatusCode, head.StatusCode);
        Assert.NotEqual(HttpStatusCode.MethodNotAllowed, head.StatusCode);
        Assert.Equal(get.Content.Headers.ContentType?.MediaType, head.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("DELETE", "/v1/registry-key", "GET, HEAD")]
    [InlineData("PUT", "/v1/policy?url=https://head.example/a.jpg", "GET, HEAD")]
    [InlineData("POST", "/", "GET, HEAD")]
    [InlineData("POST", "/v1/snapshots/000000000001-20260101T000000000Z/index.snap", "GET, HEAD")]
    [InlineData("POST", "/health/live", "GET, HEAD")]
    [InlineData("DELETE", "/health/ready", "GET, HEAD")]
    [InlineData("POST", "/metrics", "GET, HEAD")]
    [InlineData("GET", "/v1/lookup", "POST")]
    public async Task A_405_lists_head_wherever_get_is_answered_and_health_and_metrics_answer_no_other_method(string method, string path, string allowed)
    {
        using var admin = registry.App.CreateAdminClient();

        using var response = await admin.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        await TestHttp.AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal(allowed, string.Join(", ", response.Content.Headers.Allow));
    }
}

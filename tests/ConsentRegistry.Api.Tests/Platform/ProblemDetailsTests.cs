using System.Net;
using System.Text;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Platform;

public sealed class ProblemDetailsTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;

    [Fact]
    public async Task An_unknown_path_gets_404_problem_json_with_a_stable_code()
    {
        var response = await _client.GetAsync("/v1/nothing-here");

        var problem = await AssertProblemAsync(response, HttpStatusCode.NotFound, "not-found");
        Assert.Equal("urn:consent-registry:problem:not-found", problem.GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("GET", "/v1/policy?url=https://a.example/&url=https://b.example/", "url")]
    [InlineData("GET", "/v1/admin/api-keys?limit=1&limit=2", "limit")]
    [InlineData("GET", "/v1/parties/{party}/claims?after=1&limit=5&after=2", "after")]
    [InlineData("GET", "/v1/parties/{party}/domains?limit=5&limit=5", "limit")]
    [InlineData("POST", "/v1/images?mode=copies&mode=single", "mode")]
    public async Task A_repeated_query_parameter_gets_400_problem_json_naming_it(string method, string path, string parameter)
    {
        using var signer = new TestSigner();
        using var admin = registry.App.CreateAdminClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{party}", signer.Party, StringComparison.Ordinal));
        if (method == "POST")
        {
            request.Content = new ByteArrayContent([1, 2, 3]);
        }

        var response = await admin.SendAsync(request);

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-query");
        Assert.True(problem.GetProperty("errors").TryGetProperty(parameter, out _), problem.ToString());
    }

    [Fact]
    public async Task A_wrong_method_gets_405_problem_json()
    {
        var response = await _client.DeleteAsync("/v1/claims");

        await AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
    }

    [Fact]
    public async Task Garbage_bytes_anywhere_never_produce_a_500_and_the_service_keeps_answering()
    {
        var random = new Random(1234);
        string[] paths = ["/v1/claims", $"/v1/claims/{new string('a', 64)}/revocation", "/v1/admin/api-keys", "/v1/claims/%2e%2e%2fadmin", "/v1/parties/%FF/claims"];
        string[] types = ["application/jose", "application/json", "text/plain", "application/octet-stream"];
        for (var i = 0; i < 60; i++)
        {
            var bytes = new byte[random.Next(0, 4096)];
            random.NextBytes(bytes);
            var content = new ByteArrayContent(bytes);
            content.Headers.TryAddWithoutValidation("Content-Type", types[i % types.Length]);

            var response = await _client.PostAsync(paths[i % paths.Length], content);

            Assert.True((int)response.StatusCode is >= 400 and < 500, $"{paths[i % paths.Length]} answered {(int)response.StatusCode}");
            Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json",
                $"{paths[i % paths.Length]} answered {(int)response.StatusCode} without problem+json");
        }

        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task Invalid_utf8_in_a_json_envelope_is_a_client_error()
    {
        var content = new ByteArrayContent([.. Encoding.ASCII.GetBytes("{\"jws\":\""), 0xC3, 0x28, .. Encoding.ASCII.GetBytes("\"}")]);
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");

        var response = await _client.PostAsync("/v1/claims", content);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "malformed-jws");
    }
}

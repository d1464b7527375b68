using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>
/// Request bodies and answer checks shared by the API tests; import with
/// <c>using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;</c>.
/// </summary>
public static class TestHttp
{
    /// <summary>
    /// A compact JWS as the body of POST /v1/claims or a revocation (<c>application/jose</c>), in ASCII; a test of
    /// malformed input that must keep other characters passes <paramref name="encoding"/> (UTF-8).
    /// </summary>
    public static StringContent Jose(string jws, Encoding? encoding = null) => new(jws, encoding ?? Encoding.ASCII, "application/jose");

    /// <summary>POSTs <c>{"items": [...]}</c> to /v1/lookup, asserts 200 and returns the results in order.</summary>
    public static async Task<JsonElement[]> LookupItemsAsync(this HttpClient client, params JsonNode[] items)
    {
        var body = new JsonObject { ["items"] = new JsonArray(items.Select(i => (JsonNode?)i.DeepClone()).ToArray()) };
        var response = await client.PostAsync("/v1/lookup", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.JsonAsync()).GetProperty("results").EnumerateArray().ToArray();
    }

    /// <summary>The answer's body parsed as JSON, whatever its status.</summary>
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>
    /// Asserts an RFC 9457 problem: status <paramref name="status"/>, content type <c>application/problem+json</c>
    /// and the stable <c>code</c> <paramref name="code"/>. Returns the problem for further asserts (detail, errors).
    /// </summary>
    public static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}, not {(int)status}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement.Clone();
        var actual = problem.ValueKind == JsonValueKind.Object && problem.TryGetProperty("code", out var property) && property.ValueKind == JsonValueKind.String
            ? property.GetString()
            : null;
        Assert.True(actual == code, $"code {actual ?? "(none)"}, not {code}: {body}");
        return problem;
    }
}

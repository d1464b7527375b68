using System.Net;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Policy;

/// <summary>Submits and revokes the claims the policy tests need.</summary>
internal static class PolicyClaims
{
    public static JsonObject TrainAiNo => new() { ["train-ai"] = "n" };

    public static JsonObject Host(string host, bool includeSubdomains) =>
        new() { ["kind"] = "host", ["value"] = host, ["include_subdomains"] = includeSubdomains };

    public static async Task<string> SubmitAsync(HttpClient client, TestSigner signer, JsonObject usage, params JsonObject[] subjects)
    {
        var claim = TestSigner.Claim(subjects, usage);
        var response = await client.PostAsync("/v1/claims", Jose(signer.Sign(claim)));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.JsonAsync()).GetProperty("id").GetString()!;
    }

    public static async Task<string> SubmitWithTermsAsync(HttpClient client, TestSigner signer, JsonObject usage, JsonObject terms, params JsonObject[] subjects)
    {
        var claim = TestSigner.Claim(subjects, usage);
        claim["terms"] = terms;
        var response = await client.PostAsync("/v1/claims", Jose(signer.Sign(claim)));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.JsonAsync()).GetProperty("id").GetString()!;
    }

    public static async Task RevokeAsync(HttpClient client, TestSigner signer, string id)
    {
        var response = await client.PostAsync($"/v1/claims/{id}/revocation", Jose(signer.Revocation(id)));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    public static async Task<string> RobotsAsync(HttpClient client, string host)
    {
        var response = await client.GetAsync($"/v1/hosts/{host}/robots.txt");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }
}

using System.Net.Http.Json;
using System.Text.Json;

namespace ConsentRegistry.Browser.Tests.Infrastructure;

/// <summary>What a dataset builder sees through the public API, asked from the test itself.</summary>
public static class RegistryApi
{
    /// <summary>One <c>POST /v1/lookup</c> item: its train-ai decision and the claims it matched.</summary>
    public sealed record Answer(string TrainAi, IReadOnlyList<string> Claims);

    public static Task<Answer> LookupUrlAsync(this HttpClient api, string url) => LookupAsync(api, new { url });

    public static Task<Answer> LookupSha256Async(this HttpClient api, string sha256) => LookupAsync(api, new { sha256 });

    public static Task<Answer> LookupPdqAsync(this HttpClient api, string pdq) => LookupAsync(api, new { pdq });

    /// <summary><c>GET /v1/claims/{id}</c>.</summary>
    public static async Task<JsonElement> ClaimAsync(this HttpClient api, string id)
    {
        var response = await api.GetAsync($"/v1/claims/{id}");
        Assert.True(response.IsSuccessStatusCode, $"GET /v1/claims/{id} answered {(int)response.StatusCode}.");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<Answer> LookupAsync(HttpClient api, object item)
    {
        var response = await api.PostAsJsonAsync("/v1/lookup", new { items = new[] { item } });
        Assert.True(response.IsSuccessStatusCode, $"POST /v1/lookup answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var result = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results")[0];
        var claims = result.TryGetProperty("matches", out var matches) && matches.ValueKind == JsonValueKind.Array
            ? matches.EnumerateArray().Select(match => match.GetProperty("claim").GetString()!).ToList()
            : [];
        return new Answer(result.GetProperty("decision").GetProperty("train-ai").GetString()!, claims);
    }
}

using System.Net;
using System.Text.Json;
using ConsentRegistry.Api.Tests.Infrastructure;
using Dapper;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Fingerprints;

/// <summary>A registry running its fingerprint worker against images served on loopback, with retries seconds apart.</summary>
public sealed class WorkerFixture : IAsyncLifetime
{
    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?>
    {
        ["Registry:Worker:Enabled"] = "true",
        ["Registry:Worker:PollInterval"] = "00:00:00.05",
        ["Registry:Worker:RetryBackoff"] = "00:00:00.2",
        ["Registry:Worker:MaxAttempts"] = "3",
        ["Registry:Fetch:AllowPrivateAddresses"] = "true",
        ["Registry:Fetch:AllowInsecureHttp"] = "true",
        ["Registry:Fetch:AllowAnyPort"] = "true", // the test image servers listen on ports of the moment
        ["Registry:Lookup:RequestsPerSecondPerAddress"] = "100000",
    };

    public RegistryApp App { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public ImageServer Images { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Images = await ImageServer.StartAsync();
        App = await RegistryApp.StartAsync(new Dictionary<string, string?>(Settings));
        Client = App.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
        await Images.DisposeAsync();
    }
}

/// <summary>Waiting on the worker, as a client would: polling GET /v1/claims/{id}/fingerprints.</summary>
internal static class WorkerWaits
{
    /// <summary>Posts a claim and returns its id.</summary>
    public static async Task<string> ClaimAsync(this HttpClient client, string jws)
    {
        var response = await client.PostAsync("/v1/claims", Jose(jws));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.JsonAsync()).GetProperty("id").GetString()!;
    }

    public static async Task<JsonElement[]> FingerprintsAsync(this HttpClient client, string claim)
    {
        var response = await client.GetAsync($"/v1/claims/{claim}/fingerprints");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.JsonAsync()).GetProperty("fingerprints").EnumerateArray().ToArray();
    }

    /// <summary>Polls until every url of the claim is done or failed (30 s at most) and returns them.</summary>
    public static async Task<JsonElement[]> SettledFingerprintsAsync(this HttpClient client, string claim)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var items = await client.FingerprintsAsync(claim);
            if (items.All(i => i.GetProperty("status").GetString() != "pending"))
            {
                return items;
            }

            Assert.True(DateTime.UtcNow < deadline, $"The worker did not settle the claim's urls in 30 s: {string.Join(", ", items.Select(i => i.ToString()))}");
            await Task.Delay(50);
        }
    }

    public static async Task<long> CountAsync(this TestDatabase database, string sql, object? args = null)
    {
        await using var connection = await database.OpenAsync();
        return await connection.ExecuteScalarAsync<long>(sql, args);
    }

    public static async Task ExecuteAsync(this TestDatabase database, string sql, object? args = null)
    {
        await using var connection = await database.OpenAsync();
        await connection.ExecuteAsync(sql, args);
    }
}

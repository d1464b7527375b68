using System.Net;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Api.Verification;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Verification;

public sealed class VerificationRateLimitTests
{
    [Fact]
    public async Task A_client_address_over_its_verification_budget_gets_429_with_retry_after()
    {
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Verification:RequestsPerMinutePerAddress"] = "2" });
        using var client = app.CreateClient();

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            responses.Add(await client.PostAsync("/v1/parties/not-a-party/domains/artist.test/verify", null));
        }

        Assert.Equal(HttpStatusCode.BadRequest, responses[1].StatusCode);
        var problem = await AssertProblemAsync(responses[2], HttpStatusCode.TooManyRequests, "too-many-requests");
        Assert.NotNull(responses[2].Headers.RetryAfter);
        Assert.Contains("domain verification", problem.GetProperty("detail").GetString());
        Assert.DoesNotContain("batches", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_partys_domain_list_is_rate_limited_per_address_like_its_claim_list()
    {
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:WriteBudgets:ReadsPerSecondPerAddress"] = "1" });
        using var client = app.CreateClient();
        using var signer = new TestSigner();

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 6; i++)
        {
            responses.Add(await client.GetAsync($"/v1/parties/{signer.Party}/domains"));
        }

        Assert.Equal(HttpStatusCode.OK, responses[0].StatusCode);
        var refused = responses.FirstOrDefault(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.NotNull(refused);
        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "too-many-requests");
        Assert.NotNull(refused.Headers.RetryAfter);
    }

    [Theory]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true)]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:3::1", false)]
    [InlineData("203.0.113.7", "::ffff:203.0.113.7", true)]
    [InlineData("203.0.113.7", "203.0.113.8", false)]
    public void Ipv6_clients_share_one_verification_budget_per_64_block(string first, string second, bool shared) =>
        Assert.Equal(shared, ClientAddress.PartitionKey(IPAddress.Parse(first), 64) == ClientAddress.PartitionKey(IPAddress.Parse(second), 64));

    [Theory]
    [InlineData("RecheckInterval", "00:00:05", "Registry:Verification:RecheckInterval is 00:00:05; use 00:01:00 to 30.00:00:00")]
    [InlineData("MaxHostsPerParty", "0", "Registry:Verification:MaxHostsPerParty is 0; use 1 to 10000")]
    [InlineData("MaxConcurrentFetches", "0", "Registry:Verification:MaxConcurrentFetches is 0; use 1 to 1024")]
    public async Task A_setting_out_of_range_stops_the_start_with_a_message_saying_how_to_fix_it(string setting, string value, string message)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, new Dictionary<string, string?> { [$"Registry:Verification:{setting}"] = value });

        var error = Assert.ThrowsAny<Exception>(app.StartServer);

        Assert.Contains(message, error.ToString());
    }
}

using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Api.Verification;

namespace ConsentRegistry.Api.Tests.Verification;

/// <summary>
/// A party's hosts, listed publicly, and an operator's removal of one. Lapses need a re-check pass,
/// which covers every row in the database, so each test runs a registry of its own.
/// </summary>
public sealed class PartyDomainsTests
{
    private static readonly JsonObject Consent = new() { ["train-ai"] = "y" };

    private static void Publish(VerificationFixture registry, string host, params string[] keys)
    {
        registry.Network.AddHost(host, "127.0.0.1");
        registry.Network.StandIn("127.0.0.1", registry.Plain.Port);
        registry.Plain.ServeKeys(host, keys);
    }

    private static async Task<JsonElement> DomainsAsync(VerificationFixture registry, string party, string query = "")
    {
        var response = await registry.Client.GetAsync($"/v1/parties/{party}/domains{query}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.JsonAsync();
    }

    [Fact]
    public async Task A_partys_domains_list_shows_verified_and_lapsed_hosts_with_their_check_history_to_anyone()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        using var stranger = new TestSigner();
        Publish(registry, "kept.test", artist.Party);
        Publish(registry, "dropped.test", artist.Party);
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "kept.test")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "dropped.test")).StatusCode);
        registry.Plain.ServeKeys("dropped.test", stranger.Party);
        Assert.Equal(1, (await registry.RecheckAllAsync()).Lapsed);

        var body = await DomainsAsync(registry, artist.Party);

        Assert.Equal(artist.Party, body.GetProperty("party").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("next_after").ValueKind);
        var domains = body.GetProperty("domains").EnumerateArray().ToList();
        Assert.Equal(new[] { "dropped.test", "kept.test" }, domains.Select(d => d.GetProperty("host").GetString()));
        var (dropped, kept) = (domains[0], domains[1]);
        Assert.Equal("lapsed", dropped.GetProperty("state").GetString());
        Assert.Equal(1, dropped.GetProperty("failures").GetInt64());
        Assert.Equal(VerificationCodes.KeyNotListed, dropped.GetProperty("last_failure").GetString());
        Assert.Equal("verified", kept.GetProperty("state").GetString());
        Assert.Equal(0, kept.GetProperty("failures").GetInt64());
        Assert.Equal(JsonValueKind.Null, kept.GetProperty("last_failure").ValueKind);
        foreach (var domain in domains)
        {
            Assert.True(domain.GetProperty("verified_at").GetInt64() >= before);
            Assert.True(domain.GetProperty("last_checked_at").GetInt64() >= domain.GetProperty("verified_at").GetInt64());
        }

        Assert.Empty((await DomainsAsync(registry, stranger.Party)).GetProperty("domains").EnumerateArray());
    }

    [Fact]
    public async Task The_domains_list_is_paged_by_host_and_bad_queries_are_a_400_naming_each_field()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        foreach (var host in new[] { "b.paged.test", "a.paged.test" })
        {
            Publish(registry, host, artist.Party);
            Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, host)).StatusCode);
        }

        var first = await DomainsAsync(registry, artist.Party, "?limit=1");
        var second = await DomainsAsync(registry, artist.Party, $"?limit=1&after={first.GetProperty("next_after").GetString()}");
        var third = await DomainsAsync(registry, artist.Party, $"?limit=1&after={second.GetProperty("next_after").GetString()}");

        Assert.Equal("a.paged.test", Assert.Single(first.GetProperty("domains").EnumerateArray()).GetProperty("host").GetString());
        Assert.Equal("b.paged.test", Assert.Single(second.GetProperty("domains").EnumerateArray()).GetProperty("host").GetString());
        Assert.Empty(third.GetProperty("domains").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, third.GetProperty("next_after").ValueKind);
        var bad = await registry.Client.GetAsync("/v1/parties/not-a-party/domains?after=Not%20A%20Host&limit=0");
        await TestHttp.AssertProblemAsync(bad, HttpStatusCode.BadRequest, "invalid-query");
        var errors = (await bad.JsonAsync()).GetProperty("errors");
        Assert.Equal(new[] { "after", "limit", "party" }, errors.EnumerateObject().Select(e => e.Name).Order());
    }

    [Fact]
    public async Task An_operator_removing_a_verified_host_lowers_the_claims_it_raised_back_to_signed_as_a_lapse_does()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        Publish(registry, "removed.test", artist.Party);
        Publish(registry, "other.test", artist.Party);
        var (raised, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://removed.test/a.jpg"));
        var (reviewed, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://removed.test/b.jpg"));
        var (elsewhere, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://other.test/c.jpg"));
        using var admin = registry.App.CreateAdminClient();
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/v1/admin/claims/{reviewed}/review", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "removed.test")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "other.test")).StatusCode);
        Assert.Equal("domain", await registry.TrustOfAsync(raised));
        Assert.Equal("allow", await registry.TrainAiDecisionAsync("http://removed.test/a.jpg"));

        var response = await admin.DeleteAsync($"/v1/admin/parties/{artist.Party}/domains/Removed.TEST");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("signed", await registry.TrustOfAsync(raised));
        Assert.Equal("unknown", await registry.TrainAiDecisionAsync("http://removed.test/a.jpg"));
        Assert.Equal("reviewed", await registry.TrustOfAsync(reviewed));
        Assert.Equal("domain", await registry.TrustOfAsync(elsewhere));
        var hosts = (await DomainsAsync(registry, artist.Party)).GetProperty("domains").EnumerateArray().Select(d => d.GetProperty("host").GetString());
        Assert.Equal(new[] { "other.test" }, hosts);
        var (later, trust) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://removed.test/d.jpg"));
        Assert.Equal("signed", trust);
        Assert.Contains(registry.App.Logs, line => line.Contains("removed by an operator; 1 claims lowered", StringComparison.Ordinal));
        await TestHttp.AssertProblemAsync(
            await admin.DeleteAsync($"/v1/admin/parties/{artist.Party}/domains/removed.test"), HttpStatusCode.NotFound, "domain-verification-not-found");
        Assert.Equal("signed", await registry.TrustOfAsync(later));
    }

    [Fact]
    public async Task An_operator_can_remove_a_lapsed_host_and_the_removal_path_is_validated_as_verification_is()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        Publish(registry, "gone.test", artist.Party);
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "gone.test")).StatusCode);
        registry.Plain.Sites.TryRemove("gone.test", out _);
        Assert.Equal(1, (await registry.RecheckAllAsync()).Lapsed);
        using var admin = registry.App.CreateAdminClient();

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/admin/parties/{artist.Party}/domains/gone.test")).StatusCode);

        Assert.Empty((await DomainsAsync(registry, artist.Party)).GetProperty("domains").EnumerateArray());
        var bad = await admin.DeleteAsync("/v1/admin/parties/not-a-party/domains/https:%2F%2Fartist.example%2Fpath");
        var verifyBad = await registry.Client.PostAsync("/v1/parties/not-a-party/domains/https:%2F%2Fartist.example%2Fpath/verify", null);
        await TestHttp.AssertProblemAsync(bad, HttpStatusCode.BadRequest, "invalid-path");
        Assert.Equal(
            (await verifyBad.JsonAsync()).GetProperty("errors").ToString(),
            (await bad.JsonAsync()).GetProperty("errors").ToString());
        await TestHttp.AssertProblemAsync(
            await admin.DeleteAsync($"/v1/admin/parties/{artist.Party}/domains/never-verified.test"), HttpStatusCode.NotFound, "domain-verification-not-found");
    }
}

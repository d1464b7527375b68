using System.Net;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Core.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Verification;

/// <summary>End to end: a site publishes a party's key, the registry verifies it, and consents start to count.</summary>
public sealed class DomainVerificationTests(LoopbackVerificationFixture registry) : IClassFixture<LoopbackVerificationFixture>
{
    private static readonly JsonObject Consent = new() { ["train-ai"] = "y" };

    [Fact]
    public async Task Verifying_a_host_raises_the_partys_claims_on_it_to_domain_and_their_consents_count_in_lookups()
    {
        using var artist = new TestSigner();
        using var someoneElse = new TestSigner();
        var (onHost, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-a.test/painting.jpg"));
        var (elsewhere, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://not-hers.test/painting.jpg"));
        var (subdomains, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(),
            new JsonObject { ["kind"] = "host", ["value"] = "artist-a.test", ["include_subdomains"] = true });
        var (withHash, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(),
            TestSigner.Url("http://artist-a.test/sketch.jpg"), TestSigner.Subject("sha256", new string('a', 64)));
        var lastSeq = await registry.SeqOfAsync(withHash);
        Assert.Equal("unknown", await registry.TrainAiDecisionAsync("http://artist-a.test/painting.jpg"));
        registry.Publish("artist-a.test", someoneElse.Party, artist.Party);

        var response = await registry.VerifyAsync(artist.Party, "Artist-A.test");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal(artist.Party, body.GetProperty("party").GetString());
        Assert.Equal("artist-a.test", body.GetProperty("host").GetString());
        Assert.True(body.GetProperty("verified").GetBoolean());
        Assert.Equal(1, body.GetProperty("claims_raised").GetInt32());
        Assert.Equal(lastSeq + 1, body.GetProperty("seq").GetInt64()); // one trust change after the four claims
        Assert.Equal("domain", await registry.TrustOfAsync(onHost));
        Assert.Equal("signed", await registry.TrustOfAsync(elsewhere));
        Assert.Equal("signed", await registry.TrustOfAsync(subdomains));
        Assert.Equal("signed", await registry.TrustOfAsync(withHash));
        Assert.Equal("allow", await registry.TrainAiDecisionAsync("http://artist-a.test/painting.jpg"));
        Assert.Equal("unknown", await registry.TrainAiDecisionAsync("http://not-hers.test/painting.jpg"));
    }

    [Fact]
    public async Task Claims_the_party_submits_after_verifying_start_at_domain_and_other_parties_do_not()
    {
        using var artist = new TestSigner();
        using var stranger = new TestSigner();
        registry.Publish("artist-b.test", artist.Party);
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "artist-b.test")).StatusCode);

        var (later, trust) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("https://artist-b.test/new.jpg"));
        var (strangers, strangerTrust) = await registry.SubmitAsync(stranger, Consent.DeepClone().AsObject(), TestSigner.Url("https://artist-b.test/stolen.jpg"));

        Assert.Equal("domain", trust);
        Assert.Equal("domain", await registry.TrustOfAsync(later));
        Assert.Equal("allow", await registry.TrainAiDecisionAsync("https://artist-b.test/new.jpg"));
        Assert.Equal("signed", strangerTrust);
        Assert.Equal("signed", await registry.TrustOfAsync(strangers));
        Assert.Equal("unknown", await registry.TrainAiDecisionAsync("https://artist-b.test/stolen.jpg"));
    }

    [Fact]
    public async Task Verifying_again_reports_no_new_raises_and_a_failed_attempt_changes_nothing()
    {
        using var artist = new TestSigner();
        registry.Publish("artist-f.test", artist.Party);
        var (claim, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-f.test/a.jpg"));
        await registry.VerifyAsync(artist.Party, "artist-f.test");

        var again = await (await registry.VerifyAsync(artist.Party, "artist-f.test")).JsonAsync();
        registry.Plain.ServeKeys("artist-f.test");
        var failed = await registry.VerifyAsync(artist.Party, "artist-f.test");

        Assert.Equal(0, again.GetProperty("claims_raised").GetInt32());
        await AssertProblemAsync(failed, HttpStatusCode.UnprocessableEntity, "key-not-listed");
        Assert.Equal("domain", await registry.TrustOfAsync(claim));
    }

    [Fact]
    public async Task Revoked_claims_are_not_raised()
    {
        using var artist = new TestSigner();
        registry.Publish("artist-g.test", artist.Party);
        var (revoked, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-g.test/old.jpg"));
        Assert.Equal(HttpStatusCode.Created, (await registry.Client.PostAsync($"/v1/claims/{revoked}/revocation", Jose(artist.Revocation(revoked)))).StatusCode);

        var body = await (await registry.VerifyAsync(artist.Party, "artist-g.test")).JsonAsync();

        Assert.Equal(0, body.GetProperty("claims_raised").GetInt32());
        Assert.Equal("signed", await registry.TrustOfAsync(revoked));
    }

    [Fact]
    public async Task A_conditional_trust_change_never_lowers_a_claim_reviewed_in_between()
    {
        using var artist = new TestSigner();
        var (claim, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-h.test/a.jpg"));
        using (var admin = registry.App.CreateAdminClient())
        {
            await admin.PostAsync($"/v1/admin/claims/{claim}/review", null);
        }

        var log = registry.App.Services.GetRequiredService<ClaimWriter>();
        var result = await log.SetTrustIfAsync(claim, TrustLevel.Signed, TrustLevel.Domain, "domain verification", CancellationToken.None);

        Assert.Equal(AppendStatus.Unchanged, result.Status);
        Assert.Equal("reviewed", await registry.TrustOfAsync(claim));
    }

    [Fact]
    public async Task A_consent_for_an_image_hash_does_not_count_at_domain_even_beside_a_url_on_the_signers_verified_host()
    {
        // Someone verifies a throwaway domain and signs a consent for the hash of another artist's image.
        using var opportunist = new TestSigner();
        var victimsImage = new string('c', 64);
        registry.Publish("throwaway.test", opportunist.Party);
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(opportunist.Party, "throwaway.test")).StatusCode);

        var (claim, trust) = await registry.SubmitAsync(opportunist, Consent.DeepClone().AsObject(),
            TestSigner.Subject("sha256", victimsImage), TestSigner.Url("https://throwaway.test/cover.jpg"));
        var again = await (await registry.VerifyAsync(opportunist.Party, "throwaway.test")).JsonAsync();

        Assert.Equal("signed", trust);
        Assert.Equal(0, again.GetProperty("claims_raised").GetInt32());
        Assert.Equal("signed", await registry.TrustOfAsync(claim));
        Assert.Equal("unknown", await registry.TrainAiDecisionForHashAsync(victimsImage));
    }
}

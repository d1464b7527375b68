using System.Net;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Claims;

public sealed class RevocationTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;

    private async Task<(string Id, long Seq)> SubmitAsync(TestSigner signer, string url)
    {
        var jws = signer.OptOut(url);
        var body = await (await _client.PostAsync("/v1/claims", Jose(jws))).JsonAsync();
        return (body.GetProperty("id").GetString()!, body.GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task The_signer_revokes_a_claim_with_the_next_seq_and_the_claim_shows_it()
    {
        using var signer = new TestSigner();
        var (id, seq) = await SubmitAsync(signer, "https://a.example/revoke-me.jpg");
        var revocation = signer.Revocation(id);

        var response = await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(revocation));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal(TestSigner.IdOf(revocation), body.GetProperty("id").GetString());
        Assert.True(body.GetProperty("seq").GetInt64() > seq);
        var claim = await (await _client.GetAsync($"/v1/claims/{id}")).JsonAsync();
        Assert.True(claim.GetProperty("revoked").GetBoolean());
        Assert.Equal(body.GetProperty("seq").GetInt64(), claim.GetProperty("revocation").GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task Resubmitting_the_same_revocation_returns_200_and_another_one_conflicts()
    {
        using var signer = new TestSigner();
        var (id, _) = await SubmitAsync(signer, "https://a.example/twice.jpg");
        var revocation = signer.Revocation(id);
        var first = await (await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(revocation))).JsonAsync();

        var again = await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(revocation));
        var other = await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(signer.Revocation(id, TestSigner.Now - 10)));

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(first.GetProperty("seq").GetInt64(), (await again.JsonAsync()).GetProperty("seq").GetInt64());
        await AssertProblemAsync(other, HttpStatusCode.Conflict, "already-revoked");
    }

    [Fact]
    public async Task Another_key_cannot_revoke_a_claim()
    {
        using var signer = new TestSigner();
        using var stranger = new TestSigner();
        var (id, _) = await SubmitAsync(signer, "https://a.example/mine.jpg");

        var response = await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(stranger.Revocation(id)));

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "not-claim-owner");
        Assert.False((await (await _client.GetAsync($"/v1/claims/{id}")).JsonAsync()).GetProperty("revoked").GetBoolean());
    }

    [Fact]
    public async Task Revoking_an_unknown_claim_gets_404_and_a_mismatched_path_gets_400()
    {
        using var signer = new TestSigner();
        var unknown = new string('0', 64);
        var (id, _) = await SubmitAsync(signer, "https://a.example/path.jpg");

        var missing = await _client.PostAsync($"/v1/claims/{unknown}/revocation", Jose(signer.Revocation(unknown)));
        var mismatched = await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(signer.Revocation(unknown)));

        await AssertProblemAsync(missing, HttpStatusCode.NotFound, "claim-not-found");
        Assert.True((await AssertProblemAsync(mismatched, HttpStatusCode.BadRequest, "invalid-payload")).GetProperty("errors").TryGetProperty("revokes", out _));
    }

    [Fact]
    public async Task A_claim_cannot_be_posted_as_a_revocation_nor_a_revocation_as_a_claim()
    {
        using var signer = new TestSigner();
        var (id, _) = await SubmitAsync(signer, "https://a.example/shapes.jpg");

        var claimAsRevocation = await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(signer.OptOut("https://a.example/other.jpg")));
        var revocationAsClaim = await _client.PostAsync("/v1/claims", Jose(signer.Revocation(id)));

        await AssertProblemAsync(claimAsRevocation, HttpStatusCode.BadRequest, "invalid-payload");
        await AssertProblemAsync(revocationAsClaim, HttpStatusCode.BadRequest, "invalid-payload");
    }

    [Fact]
    public async Task A_tampered_revocation_is_refused()
    {
        using var signer = new TestSigner();
        var (id, _) = await SubmitAsync(signer, "https://a.example/tamper-rev.jpg");
        var revocation = signer.Revocation(id);
        var tampered = revocation[..^2] + (revocation[^2] == 'A' ? "B" : "A") + revocation[^1];

        var response = await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(tampered));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "bad-signature");
        Assert.False((await (await _client.GetAsync($"/v1/claims/{id}")).JsonAsync()).GetProperty("revoked").GetBoolean());
    }

    [Fact]
    public async Task The_same_revocation_with_a_re_encoded_signature_answers_as_a_claims_twin_does_200_with_the_stored_id()
    {
        using var signer = new TestSigner();
        var (id, _) = await SubmitAsync(signer, "https://a.example/revocation-twin.jpg");
        var revocation = signer.Revocation(id);
        var first = await (await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(revocation))).JsonAsync();

        var twin = await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(TestSigner.ReEncodeSignature(revocation)));

        Assert.Equal(HttpStatusCode.OK, twin.StatusCode);
        var second = await twin.JsonAsync();
        Assert.Equal(first.GetProperty("id").GetString(), second.GetProperty("id").GetString());
        Assert.Equal(first.GetProperty("seq").GetInt64(), second.GetProperty("seq").GetInt64());
    }

    [Theory]
    [InlineData("""{"v":1,"iat":1700000000,"revokes":"{id}","subjects":[]}""", "subjects")]
    [InlineData("""{"v":1,"iat":1,"revokes":"{id}"}""", "iat")]
    [InlineData("""{"v":1,"iat":"now","revokes":"{id}"}""", "iat")]
    public async Task Revocation_payload_errors_speak_of_the_revocation(string payload, string field)
    {
        using var signer = new TestSigner();
        var (id, _) = await SubmitAsync(signer, $"https://a.example/revocation-words-{field}-{payload.Length}.jpg");

        var response = await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(signer.SignRaw(null, payload.Replace("{id}", id, StringComparison.Ordinal))));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-payload");
        Assert.Equal("The revocation payload is not valid.", problem.GetProperty("title").GetString());
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task A_revocation_missing_its_version_gets_one_message_in_the_registrys_words()
    {
        using var signer = new TestSigner();
        var (id, _) = await SubmitAsync(signer, "https://a.example/revocation-without-v.jpg");

        var response = await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(signer.SignRaw(null, $$"""{"iat":1700000000,"revokes":"{{id}}"}""")));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-payload");
        Assert.Equal(["v (the format version, 1) is required."], problem.GetProperty("errors").GetProperty("v").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task A_revocation_payload_with_extra_members_is_refused()
    {
        using var signer = new TestSigner();
        var (id, _) = await SubmitAsync(signer, "https://a.example/extra.jpg");
        var jws = signer.Sign(new JsonObject { ["v"] = 1, ["iat"] = TestSigner.Now, ["revokes"] = id, ["subjects"] = new JsonArray() });

        var response = await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(jws));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-payload");
    }
}

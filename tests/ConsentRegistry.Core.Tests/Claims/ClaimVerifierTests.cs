using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Core.Tests.Claims;

public sealed class ClaimVerifierTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ClaimVerifier _verifier = new(new FixedTime(Now));

    private static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private JsonObject Jwk()
    {
        var q = _key.ExportParameters(false).Q;
        return new JsonObject { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = B64(q.X!), ["y"] = B64(q.Y!) };
    }

    private string Sign(JsonNode payload, JsonObject? header = null)
    {
        header ??= new JsonObject { ["alg"] = "ES256", ["typ"] = "consent-claim", ["jwk"] = Jwk() };
        var input = B64(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + B64(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        return input + "." + B64(_key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
    }

    private static JsonObject Payload(long? iat = null) => new()
    {
        ["v"] = 1,
        ["iat"] = iat ?? Now.ToUnixTimeSeconds(),
        ["subjects"] = new JsonArray(new JsonObject { ["kind"] = "sha256", ["value"] = new string('F', 64) }),
        ["usage"] = new JsonObject { ["tdm"] = "n" },
    };

    [Fact]
    public void A_valid_claim_yields_its_id_party_canonical_subjects_and_usage()
    {
        var jws = Sign(Payload());

        Assert.True(_verifier.TryVerifyClaim(jws, out var claim, out var error), error?.ToString());

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(jws))), claim!.Id);
        var jwk = Jwk();
        var thumbprintInput = $$"""{"crv":"P-256","kty":"EC","x":"{{jwk["x"]}}","y":"{{jwk["y"]}}"}""";
        Assert.Equal(B64(SHA256.HashData(Encoding.UTF8.GetBytes(thumbprintInput))), claim.Party);
        Assert.Equal(new string('f', 64), Assert.Single(claim.Subjects).Value);
        Assert.Equal(Preference.No, claim.Usage.TrainGenAi);
    }

    [Fact]
    public void The_iat_may_run_up_to_five_minutes_ahead_of_the_registry_clock()
    {
        Assert.True(_verifier.TryVerifyClaim(Sign(Payload(Now.AddMinutes(5).ToUnixTimeSeconds())), out _, out _));
        Assert.False(_verifier.TryVerifyClaim(Sign(Payload(Now.AddMinutes(5).AddSeconds(1).ToUnixTimeSeconds())), out _, out var error));
        Assert.Contains("iat", error!.Errors.Keys);
    }

    [Fact]
    public void A_der_encoded_signature_is_refused_with_a_hint_about_the_raw_form()
    {
        var jws = Sign(Payload());
        var input = jws[..jws.LastIndexOf('.')];
        var der = _key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

        Assert.False(_verifier.TryVerifyClaim(input + "." + B64(der), out _, out var error));

        Assert.Equal(ClaimErrorCodes.BadSignature, error!.Code);
        Assert.Contains("not DER", error.Errors["jws.signature"][0]);
    }

    [Fact]
    public void A_key_that_is_not_on_the_curve_is_refused()
    {
        var jwk = Jwk();
        jwk["y"] = B64(new byte[32]);

        Assert.False(_verifier.TryVerifyClaim(Sign(Payload(), new JsonObject { ["alg"] = "ES256", ["typ"] = "consent-claim", ["jwk"] = jwk }), out _, out var error));

        Assert.Equal(ClaimErrorCodes.InvalidHeader, error!.Code);
    }

    [Theory]
    [InlineData("consent-claim", true)]
    [InlineData("Consent-Claim", true)]
    [InlineData("application/consent-claim", true)] // RFC 7515 4.1.9: "application/" may be left out, so both name one type
    [InlineData("APPLICATION/consent-claim", true)]
    [InlineData("text/consent-claim", false)]
    [InlineData("application/consent-claim+json", false)]
    [InlineData("jwt", false)]
    public void The_typ_names_the_claim_type_with_or_without_its_media_type_prefix(string typ, bool accepted)
    {
        var jws = Sign(Payload(), new JsonObject { ["alg"] = "ES256", ["typ"] = typ, ["jwk"] = Jwk() });

        Assert.Equal(accepted, _verifier.TryVerifyClaim(jws, out _, out var error));
        Assert.True(accepted || error!.Errors.ContainsKey("jws.header.typ"));
    }

    [Fact]
    public void A_protected_header_past_4_KiB_is_refused_before_it_is_decoded()
    {
        var padded = new JsonObject { ["alg"] = "ES256", ["typ"] = "consent-claim", ["jwk"] = Jwk(), ["pad"] = new string('x', 4_000) };
        var within = new JsonObject { ["alg"] = "ES256", ["typ"] = "consent-claim", ["jwk"] = Jwk(), ["kid"] = new string('x', 3_000) };

        Assert.False(_verifier.TryVerifyClaim(Sign(Payload(), padded), out _, out var error));
        Assert.Equal(ClaimErrorCodes.InvalidHeader, error!.Code);
        Assert.Contains("at most 4096 bytes", error.Errors["jws.header"][0]);
        Assert.True(_verifier.TryVerifyClaim(Sign(Payload(), within), out _, out error), error?.ToString());
    }

    [Fact]
    public void A_revocation_names_the_claim_it_revokes()
    {
        var id = new string('a', 64);

        Assert.True(_verifier.TryVerifyRevocation(Sign(new JsonObject { ["v"] = 1, ["iat"] = Now.ToUnixTimeSeconds(), ["revokes"] = id }), out var revocation, out _));

        Assert.Equal(id, revocation!.Revokes);
        Assert.False(_verifier.TryVerifyRevocation(Sign(new JsonObject { ["v"] = 1, ["iat"] = 1700000000, ["revokes"] = "ABC" }), out _, out var error));
        Assert.Contains("revokes", error!.Errors.Keys);
    }

    [Theory]
    [InlineData("pdq", "0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("pdq", "abc")]
    [InlineData("sha256", "zz00000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("host", "https://example.com/")]
    [InlineData("url", "data:image/png;base64,AAAA")]
    public void Subjects_that_cannot_be_canonical_are_named(string kind, string value)
    {
        var payload = Payload();
        payload["subjects"] = new JsonArray(new JsonObject { ["kind"] = "url", ["value"] = "https://ok.example/" }, new JsonObject { ["kind"] = kind, ["value"] = value });

        Assert.False(_verifier.TryVerifyClaim(Sign(payload), out _, out var error));

        Assert.Equal(["subjects[1].value"], error!.Errors.Keys);
    }

    [Fact]
    public void Members_of_the_wrong_type_are_listed_with_every_other_failing_field()
    {
        var payload = Payload();
        payload["v"] = "y";
        payload["iat"] = "x";
        payload["subjects"] = new JsonArray(new JsonObject { ["kind"] = "url", ["value"] = "data:image/png;base64,AAAA" }, new JsonObject { ["kind"] = "pdq", ["value"] = "abc" });
        payload["usage"] = new JsonObject { ["train-ai"] = "maybe" };
        payload["colour"] = "blue";

        Assert.False(_verifier.TryVerifyClaim(Sign(payload), out _, out var error));

        Assert.Equal(ClaimErrorCodes.InvalidPayload, error!.Code);
        Assert.Equal(["colour", "iat", "subjects[0].value", "subjects[1].value", "usage.train-ai", "v"], error.Errors.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("wrong type", error.Errors["iat"][0]);
        Assert.Contains("Unknown member", error.Errors["colour"][0]);
    }

    [Fact]
    public void A_member_of_the_wrong_type_inside_a_subject_is_named_by_its_path()
    {
        var payload = Payload();
        payload["subjects"] = new JsonArray(new JsonObject { ["kind"] = "url", ["value"] = 7 });
        payload["usage"] = new JsonObject { ["train-ai"] = "maybe" };

        Assert.False(_verifier.TryVerifyClaim(Sign(payload), out _, out var error));

        Assert.Equal(["subjects[0].value", "usage.train-ai"], error!.Errors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_revocation_with_a_mistyped_member_also_names_its_other_failing_fields()
    {
        Assert.False(_verifier.TryVerifyRevocation(Sign(new JsonObject { ["v"] = "1", ["iat"] = Now.ToUnixTimeSeconds(), ["revokes"] = "ABC" }), out _, out var error));

        Assert.Equal(["revokes", "v"], error!.Errors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_unknown_member_named_with_a_dollar_is_named_as_sent_beside_the_member_it_resembles()
    {
        var payload = Payload();
        payload["v"] = "x";
        payload["$v"] = 1;

        Assert.False(_verifier.TryVerifyClaim(Sign(payload), out _, out var error));

        Assert.Equal(["$v", "v"], error!.Errors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_payload_of_many_unknown_members_is_refused_with_its_first_error_only()
    {
        var payload = Payload();
        for (var i = 0; i < 100; i++)
        {
            payload[$"extra{i}"] = i;
        }

        Assert.False(_verifier.TryVerifyClaim(Sign(payload), out _, out var error));

        Assert.Equal(["extra0"], error!.Errors.Keys);
    }

    [Fact]
    public void A_repeated_member_is_still_refused_as_such()
    {
        var jws = Sign(Payload());
        var parts = jws.Split('.');
        var repeated = """{"v":1,"v":"x","iat":1764158400,"subjects":[],"usage":{}}""";
        var input = parts[0] + "." + B64(Encoding.UTF8.GetBytes(repeated));
        var signed = input + "." + B64(_key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));

        Assert.False(_verifier.TryVerifyClaim(signed, out _, out var error));

        Assert.Equal(ClaimErrorCodes.InvalidPayload, error!.Code);
        Assert.Single(error.Errors);
    }

    public void Dispose() => _key.Dispose();
}

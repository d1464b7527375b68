using System.Numerics;
using System.Text;
using System.Text.Json.Nodes;
using ConsentRegistry.Core.Claims;
using Org.BouncyCastle.Math.EC.Rfc8032;

namespace ConsentRegistry.Core.Tests.Claims;

/// <summary>
/// Claims and revocations signed with EdDSA (RFC 8037): an Ed25519 key in the protected header, the
/// party its RFC 7638 thumbprint. The key is RFC 8037's example key (appendix A.1), whose thumbprint
/// the RFC gives (A.3).
/// </summary>
public sealed class Ed25519ClaimTests
{
    private const string RfcPrivateKey = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    private const string RfcPublicKey = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    private const string RfcThumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

    /// <summary>The order of the Ed25519 group's prime-order subgroup (RFC 8032 section 5.1: L).</summary>
    private static readonly BigInteger GroupOrder = BigInteger.Pow(2, 252) + BigInteger.Parse("27742317777372353535851937790883648493");

    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private readonly ClaimVerifier _verifier = new(new FixedTime(Now));

    private static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromB64(string text)
    {
        Assert.True(Base64Url.TryDecode(text, out var bytes));
        return bytes;
    }

    private static JsonObject Jwk(string x = RfcPublicKey) => new() { ["kty"] = "OKP", ["crv"] = "Ed25519", ["x"] = x };

    private static JsonObject Header(JsonObject? jwk = null, string alg = "EdDSA") =>
        new() { ["alg"] = alg, ["typ"] = "consent-claim", ["jwk"] = jwk ?? Jwk() };

    private static string Sign(JsonNode payload, JsonObject? header = null, string privateKey = RfcPrivateKey)
    {
        var input = B64(Encoding.UTF8.GetBytes((header ?? Header()).ToJsonString())) + "." + B64(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        var message = Encoding.ASCII.GetBytes(input);
        var signature = new byte[Ed25519.SignatureSize];
        Ed25519.Sign(FromB64(privateKey), 0, message, 0, message.Length, signature, 0);
        return input + "." + B64(signature);
    }

    private static JsonObject Payload() => new()
    {
        ["v"] = 1,
        ["iat"] = Now.ToUnixTimeSeconds(),
        ["subjects"] = new JsonArray(new JsonObject { ["kind"] = "url", ["value"] = "https://artist.example/works/heron.png" }),
        ["usage"] = new JsonObject { ["train-ai"] = "n" },
    };

    [Fact]
    public void The_party_of_an_ed25519_key_is_its_rfc_7638_thumbprint()
    {
        Assert.Equal(RfcThumbprint, PartyId.FromEd25519(RfcPublicKey));
    }

    [Fact]
    public void A_claim_signed_with_eddsa_is_verified_and_names_the_keys_thumbprint_as_its_party()
    {
        var jws = Sign(Payload());

        Assert.True(_verifier.TryVerifyClaim(jws, out var claim, out var error), error?.ToString());

        Assert.Equal(RfcThumbprint, claim!.Party);
        Assert.Equal("EdDSA", claim.Algorithm);
        Assert.Equal("https://artist.example/works/heron.png", Assert.Single(claim.Subjects).Value);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.ASCII.GetBytes(jws))), claim.Id);
    }

    [Fact]
    public void A_revocation_signed_with_eddsa_is_verified()
    {
        var jws = Sign(new JsonObject { ["v"] = 1, ["iat"] = Now.ToUnixTimeSeconds(), ["revokes"] = new string('a', 64) });

        Assert.True(_verifier.TryVerifyRevocation(jws, out var revocation, out var error), error?.ToString());

        Assert.Equal(RfcThumbprint, revocation!.Party);
    }

    [Fact]
    public void A_changed_payload_or_another_keys_signature_does_not_verify()
    {
        var jws = Sign(Payload());
        var parts = jws.Split('.');
        var other = Payload();
        other["usage"] = new JsonObject { ["train-ai"] = "y" };
        var swapped = $"{parts[0]}.{B64(Encoding.UTF8.GetBytes(other.ToJsonString()))}.{parts[2]}";
        var otherKey = new byte[Ed25519.SecretKeySize];
        otherKey[0] = 1;
        var byAnotherKey = Sign(Payload(), privateKey: B64(otherKey));

        Assert.False(_verifier.TryVerifyClaim(swapped, out _, out var swappedError));
        Assert.False(_verifier.TryVerifyClaim(byAnotherKey, out _, out var otherError));

        Assert.Equal(ClaimErrorCodes.BadSignature, swappedError!.Code);
        Assert.Equal(ClaimErrorCodes.BadSignature, otherError!.Code);
    }

    [Fact]
    public void A_signature_whose_s_is_not_reduced_below_the_group_order_is_refused()
    {
        // S + L verifies under the bare equation [S]B = R + [k]A, so a lax verifier would accept a
        // second encoding of one signature (a second JWS, and claim id, for the same signed content).
        var jws = Sign(Payload());
        var dot = jws.LastIndexOf('.');
        var signature = FromB64(jws[(dot + 1)..]);
        var s = new BigInteger(signature.AsSpan(32), isUnsigned: true, isBigEndian: false);
        var raised = (s + GroupOrder).ToByteArray(isUnsigned: true, isBigEndian: false);
        Assert.True(raised.Length <= 32);
        Array.Clear(signature, 32, 32);
        raised.CopyTo(signature, 32);

        Assert.False(_verifier.TryVerifyClaim(jws[..(dot + 1)] + B64(signature), out _, out var error));

        Assert.Equal(ClaimErrorCodes.BadSignature, error!.Code);
    }

    [Fact]
    public void A_key_of_small_order_is_refused_before_any_signature_is_checked()
    {
        // The identity point (x = 0, y = 1): with it and R the identity, S = 0 "verifies" any message.
        var identity = new byte[32];
        identity[0] = 1;
        var signature = new byte[64];
        signature[0] = 1;
        var header = Header(Jwk(B64(identity)));
        var input = B64(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + B64(Encoding.UTF8.GetBytes(Payload().ToJsonString()));

        Assert.False(_verifier.TryVerifyClaim(input + "." + B64(signature), out _, out var error));

        Assert.Equal(ClaimErrorCodes.InvalidHeader, error!.Code);
        Assert.Contains("prime-order", error.Errors["jws.header.jwk.x"][0]);
    }

    [Theory]
    [InlineData("EdDSA", "EC", "P-256", "Ed25519 key")]
    [InlineData("EdDSA", "OKP", "Ed448", "Ed448 is not supported")]
    [InlineData("EdDSA", "OKP", "X25519", "Ed25519 key")]
    [InlineData("ES256", "OKP", "Ed25519", "EC key on P-256")]
    public void The_key_must_be_of_the_algorithms_kind(string alg, string kty, string crv, string said)
    {
        var jwk = new JsonObject { ["kty"] = kty, ["crv"] = crv, ["x"] = RfcPublicKey };
        if (kty == "EC")
        {
            jwk["y"] = RfcPublicKey;
        }

        Assert.False(_verifier.TryVerifyClaim(Sign(Payload(), Header(jwk, alg)), out _, out var error));

        Assert.Equal(ClaimErrorCodes.InvalidHeader, error!.Code);
        Assert.Contains(said, error.Errors["jws.header.jwk"][0]);
    }

    [Theory]
    [InlineData("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR", "32-byte")]
    [InlineData("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURoA", "32-byte")]
    [InlineData("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp", "32-byte")]
    public void The_public_key_must_be_32_bytes_of_canonical_base64url(string x, string said)
    {
        Assert.False(_verifier.TryVerifyClaim(Sign(Payload(), Header(Jwk(x))), out _, out var error));

        Assert.Contains(said, error!.Errors["jws.header.jwk.x"][0]);
    }

    [Fact]
    public void A_header_that_carries_the_private_key_is_refused()
    {
        var jwk = Jwk();
        jwk["d"] = RfcPrivateKey;

        Assert.False(_verifier.TryVerifyClaim(Sign(Payload(), Header(jwk)), out _, out var error));

        Assert.Contains("jws.header.jwk.d", error!.Errors.Keys);
    }

    [Fact]
    public void An_unknown_algorithm_is_refused_naming_both_that_are_supported()
    {
        Assert.False(_verifier.TryVerifyClaim(Sign(Payload(), Header(alg: "Ed25519")), out _, out var error));

        Assert.Equal(ClaimErrorCodes.UnsupportedAlgorithm, error!.Code);
        Assert.Contains("use ES256 or EdDSA", error.Errors["jws.header.alg"][0]);
    }
}

using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>A party for tests: an EC P-256 key that signs claims and revocations as compact JWS.</summary>
public sealed class TestSigner : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public TestSigner()
    {
        var parameters = _key.ExportParameters(false);
        X = Encode(parameters.Q.X!);
        Y = Encode(parameters.Q.Y!);
        Party = Encode(SHA256.HashData(Encoding.UTF8.GetBytes($$"""{"crv":"P-256","kty":"EC","x":"{{X}}","y":"{{Y}}"}""")));
    }

    public string X { get; }

    public string Y { get; }

    /// <summary>The RFC 7638 thumbprint, computed here independently of the service.</summary>
    public string Party { get; }

    public static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public string Sign(JsonNode payload, JsonObject? header = null)
    {
        header ??= new JsonObject { ["alg"] = "ES256", ["typ"] = "consent-claim", ["jwk"] = Jwk() };
        var signingInput = Encode(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + Encode(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Encode(signature);
    }

    /// <summary>Signs header and payload exactly as given (null header: the usual one), for malformed inputs.</summary>
    public string SignRaw(string? header, string payload)
    {
        header ??= new JsonObject { ["alg"] = "ES256", ["typ"] = "consent-claim", ["jwk"] = Jwk() }.ToJsonString();
        var signingInput = Encode(Encoding.UTF8.GetBytes(header)) + "." + Encode(Encoding.UTF8.GetBytes(payload));
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Encode(signature);
    }

    /// <summary>The same JWS with its signature re-encoded as (r, n − s): anyone can make it, and it verifies too.</summary>
    public static string ReEncodeSignature(string jws)
    {
        var parts = jws.Split('.');
        Assert.True(ConsentRegistry.Core.Claims.Base64Url.TryDecode(parts[2], out var signature));
        var n = System.Numerics.BigInteger.Parse("0FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", System.Globalization.NumberStyles.HexNumber);
        var s = new System.Numerics.BigInteger(signature.AsSpan(32), isUnsigned: true, isBigEndian: true);
        var flipped = (n - s).ToByteArray(isUnsigned: true, isBigEndian: true);
        var malleated = new byte[64];
        signature.AsSpan(0, 32).CopyTo(malleated);
        flipped.CopyTo(malleated.AsSpan(64 - flipped.Length));
        return $"{parts[0]}.{parts[1]}.{Encode(malleated)}";
    }

    public JsonObject Jwk() => new() { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = X, ["y"] = Y };

    /// <summary>A one-subject opt-out of AI training for a URL.</summary>
    public string OptOut(string url, long? iat = null) => Sign(Claim([Url(url)], new JsonObject { ["train-ai"] = "n" }, iat));

    public string Revocation(string claimId, long? iat = null) =>
        Sign(new JsonObject { ["v"] = 1, ["iat"] = iat ?? Now, ["revokes"] = claimId });

    public static JsonObject Claim(IEnumerable<JsonObject> subjects, JsonObject usage, long? iat = null) => new()
    {
        ["v"] = 1,
        ["iat"] = iat ?? Now,
        ["subjects"] = new JsonArray(subjects.Select(s => (JsonNode)s).ToArray()),
        ["usage"] = usage,
    };

    public static JsonObject Url(string url) => new() { ["kind"] = "url", ["value"] = url };

    public static JsonObject Subject(string kind, string value) => new() { ["kind"] = kind, ["value"] = value };

    public static string IdOf(string jws) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(jws)));

    public static string Encode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose() => _key.Dispose();
}

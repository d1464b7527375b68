using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Core.Snapshots;

/// <summary>
/// A registry's public ES256 key, as <c>GET /v1/registry-key</c> serves it: verifies what the
/// registry signs (snapshot manifests) without its private half.
/// </summary>
public sealed class RegistryPublicKey : IDisposable
{
    private readonly ECDsa _key;

    private RegistryPublicKey(ECDsa key, PublicJwk jwk)
    {
        _key = key;
        Jwk = jwk;
    }

    /// <summary>The JWK, its <c>kid</c> the RFC 7638 thumbprint computed here (whatever the file said).</summary>
    public PublicJwk Jwk { get; }

    public string Kid => Jwk.Kid;

    /// <summary>Reads a public JWK (P-256); false with the reason when it is not one.</summary>
    public static bool TryParse(ReadOnlySpan<byte> json, out RegistryPublicKey? key, out string error)
    {
        key = null;
        PublicJwk? jwk;
        try
        {
            jwk = JsonSerializer.Deserialize(json, SigningJson.Default.PublicJwk);
        }
        catch (JsonException)
        {
            jwk = null;
        }

        if (jwk is not { Kty: "EC", Crv: "P-256" } || !Coordinate(jwk.X, out var x) || !Coordinate(jwk.Y, out var y))
        {
            error = "not a P-256 public JWK (kty EC, crv P-256, x, y)";
            return false;
        }

        var ecdsa = ECDsa.Create();
        try
        {
            var parameters = new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = x, Y = y } };
            parameters.Validate();
            ecdsa.ImportParameters(parameters);
        }
        catch (CryptographicException e)
        {
            ecdsa.Dispose();
            error = $"not a valid P-256 key: {e.Message}";
            return false;
        }

        key = new RegistryPublicKey(ecdsa, jwk with { Kid = PartyId.FromEcP256(jwk.X, jwk.Y), Alg = "ES256", Use = "sig" });
        error = "";
        return true;
    }

    /// <summary>Whether <paramref name="jws"/> is a compact JWS by this key (ES256, this <c>kid</c>, <c>typ</c> <paramref name="type"/>); its payload when it is.</summary>
    public bool TryVerify(string jws, string type, out byte[] payload) => Es256Jws.TryVerify(_key, Kid, jws, type, out payload);

    public void Dispose() => _key.Dispose();

    private static bool Coordinate(string? encoded, out byte[] bytes)
    {
        bytes = [];
        return encoded is not null && Base64Url.TryDecode(encoded, out bytes) && bytes.Length == 32;
    }
}

/// <summary>Compact JWS (RFC 7515) with ES256 as the registry signs: protected header <c>{"alg","kid","typ"}</c>, signature r ‖ s.</summary>
public static class Es256Jws
{
    /// <summary>A compact JWS of <paramref name="payload"/> signed with <paramref name="key"/>.</summary>
    public static string Sign(ECDsa key, string kid, ReadOnlySpan<byte> payload, string type)
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(new JwsHeader("ES256", kid, type), SigningJson.Default.JwsHeader);
        var signingInput = $"{Base64Url.Encode(header)}.{Base64Url.Encode(payload)}";
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return $"{signingInput}.{Base64Url.Encode(signature)}";
    }

    /// <summary>Whether <paramref name="jws"/> is signed by <paramref name="key"/> with <paramref name="kid"/> and <paramref name="type"/>; its payload when it is.</summary>
    public static bool TryVerify(ECDsa key, string kid, string jws, string type, out byte[] payload)
    {
        payload = [];
        var parts = jws.Split('.');
        if (parts.Length != 3 || !Base64Url.TryDecode(parts[0], out var headerBytes) || !Base64Url.TryDecode(parts[1], out var body)
            || !Base64Url.TryDecode(parts[2], out var signature) || signature.Length != 64)
        {
            return false;
        }

        JwsHeader? header;
        try
        {
            header = JsonSerializer.Deserialize(headerBytes, SigningJson.Default.JwsHeader);
        }
        catch (JsonException)
        {
            return false;
        }

        if (header is not { Alg: "ES256" } || header.Kid != kid || header.Typ != type
            || !key.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
        {
            return false;
        }

        payload = body;
        return true;
    }
}

/// <summary>A registry key's public JWK, as <c>GET /v1/registry-key</c> returns it.</summary>
public sealed record PublicJwk(
    [property: JsonPropertyName("kty")] string Kty,
    [property: JsonPropertyName("crv")] string Crv,
    [property: JsonPropertyName("x")] string X,
    [property: JsonPropertyName("y")] string Y,
    [property: JsonPropertyName("kid")] string Kid,
    [property: JsonPropertyName("alg")] string Alg,
    [property: JsonPropertyName("use")] string Use);

/// <summary>The protected header of what the registry signs.</summary>
internal sealed record JwsHeader(
    [property: JsonPropertyName("alg")] string? Alg,
    [property: JsonPropertyName("kid")] string? Kid,
    [property: JsonPropertyName("typ")] string? Typ);

[JsonSerializable(typeof(PublicJwk))]
[JsonSerializable(typeof(JwsHeader))]
internal sealed partial class SigningJson : JsonSerializerContext;

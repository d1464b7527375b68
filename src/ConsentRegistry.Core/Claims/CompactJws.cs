using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ConsentRegistry.Core.Claims;

/// <summary>
/// A compact JWS whose signature has been checked against the key in its own header.
/// <see cref="ContentHash"/> identifies what was signed (header and payload): an ECDSA signature
/// can be re-encoded by anyone into another valid one (s → n − s), giving another JWS string
/// and claim id for the same signed content, so the store recognises duplicates by content.
/// </summary>
public sealed record VerifiedJws(string Compact, string Algorithm, string Party, byte[] Payload, string ContentHash)
{
    /// <summary>Claim id: lowercase hex SHA-256 of the compact serialization.</summary>
    public string Id { get; } = IdOf(Compact);

    public static string IdOf(string compact)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        var length = Encoding.ASCII.GetByteCount(compact);
        var bytes = length <= 4096 ? stackalloc byte[length] : new byte[length];
        Encoding.ASCII.GetBytes(compact, bytes);
        SHA256.HashData(bytes, hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary><see cref="ContentHash"/> of a stored compact JWS: lowercase hex SHA-256 of its signing input (header.payload).</summary>
    public static string ContentHashOf(string compact) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(compact, 0, compact.LastIndexOf('.'))));
}

/// <summary>
/// RFC 7515 compact serialization with the signer's public key in the protected header (<c>jwk</c>).
/// ES256 only: the signature is the raw r||s pair (RFC 7518 section 3.4). The party id is the
/// RFC 7638 thumbprint of that key, so no account or key registry is needed.
/// </summary>
public static class CompactJws
{
    public const string ClaimType = "consent-claim";

    /// <summary>Large enough for 10,000 long URLs; anything bigger is refused before parsing.</summary>
    public const int MaxLength = 8 * 1024 * 1024;

    private const string HeaderField = "jws.header";

    public static bool TryVerify(string compact, out VerifiedJws? jws, out ClaimError? error)
    {
        jws = null;
        error = null;
        if (compact.Length == 0 || compact.Length > MaxLength)
        {
            error = Malformed($"The JWS must be 1 to {MaxLength} characters.");
            return false;
        }

        var firstDot = compact.IndexOf('.');
        var secondDot = firstDot < 0 ? -1 : compact.IndexOf('.', firstDot + 1);
        if (firstDot < 0 || secondDot < 0 || compact.IndexOf('.', secondDot + 1) >= 0)
        {
            error = Malformed("A compact JWS has exactly three base64url parts separated by dots.");
            return false;
        }

        var span = compact.AsSpan();
        if (!Base64Url.TryDecode(span[..firstDot], out var headerBytes)
            || !Base64Url.TryDecode(span[(firstDot + 1)..secondDot], out var payload)
            || !Base64Url.TryDecode(span[(secondDot + 1)..], out var signature))
        {
            error = Malformed("Each part must be canonical base64url without padding.");
            return false;
        }

        if (!TryReadHeader(headerBytes, out var algorithm, out var key, out error))
        {
            return false;
        }

        using (key)
        {
            if (signature.Length != 64)
            {
                error = ClaimError.Field(ClaimErrorCodes.BadSignature, "The signature is not valid.", "jws.signature",
                    "An ES256 signature is 64 bytes: r and s, 32 bytes each (not DER).");
                return false;
            }

            var signingInput = Encoding.ASCII.GetBytes(compact, 0, secondDot);
            if (!key!.Key.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
            {
                error = ClaimError.Field(ClaimErrorCodes.BadSignature, "The signature is not valid.", "jws.signature",
                    "The signature does not verify with the key in the protected header.");
                return false;
            }

            jws = new VerifiedJws(compact, algorithm!, key.Thumbprint, payload, Convert.ToHexStringLower(SHA256.HashData(signingInput)));
            return true;
        }
    }

    private static bool TryReadHeader(byte[] headerBytes, out string? algorithm, out EcKey? key, out ClaimError? error)
    {
        algorithm = null;
        key = null;
        error = null;
        JsonDocument document;
        try
        {
            if (!System.Text.Unicode.Utf8.IsValid(headerBytes))
            {
                throw new JsonException();
            }

            document = JsonDocument.Parse(headerBytes, HeaderOptions);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: the duplicate-member check cannot compare a member name
            // escaping a lone surrogate ("\ud800"), and says so with it rather than a JsonException.
            error = InvalidHeader(HeaderField, "The protected header is not valid UTF-8 JSON (duplicate members are refused).");
            return false;
        }

        try
        {
            return ReadHeader(document, out algorithm, out key, out error);
        }
        catch (InvalidOperationException)
        {
            // A string member that is not valid text (e.g. an escaped lone surrogate).
            key?.Dispose();
            key = null;
            error = InvalidHeader(HeaderField, "The protected header holds a string that is not valid text.");
            return false;
        }
        finally
        {
            document.Dispose();
        }
    }

    private static readonly JsonDocumentOptions HeaderOptions = new() { AllowDuplicateProperties = false, MaxDepth = 8 };

    private static bool ReadHeader(JsonDocument document, out string? algorithm, out EcKey? key, out ClaimError? error)
    {
        algorithm = null;
        key = null;
        error = null;
        var header = document.RootElement;
        if (header.ValueKind != JsonValueKind.Object)
        {
            error = InvalidHeader(HeaderField, "The protected header must be a JSON object.");
            return false;
        }

        var errors = new Dictionary<string, string[]>();
        algorithm = StringMember(header, "alg");
        if (algorithm != "ES256")
        {
            error = ClaimError.Field(ClaimErrorCodes.UnsupportedAlgorithm, "The signing algorithm is not supported.",
                "jws.header.alg", algorithm is null ? "alg is required; use ES256." : $"alg '{Truncate(algorithm)}' is not supported; use ES256.");
            return false;
        }

        // RFC 7515 4.1.9: compared ignoring ASCII case only (OrdinalIgnoreCase would take "conſent-claım").
        if (StringMember(header, "typ") is not { } typ || !Ascii.EqualsIgnoreCase(typ, ClaimType))
        {
            errors["jws.header.typ"] = [$"typ must be '{ClaimType}'."];
        }

        if (header.TryGetProperty("crit", out _))
        {
            errors["jws.header.crit"] = ["No header extensions are understood; remove crit."];
        }

        // RFC 7797: b64 must be listed in crit, which is refused, so any b64 is malformed (b64 true
        // would also sign the same claim under another header: a second id for one claim).
        if (header.TryGetProperty("b64", out _))
        {
            errors["jws.header.b64"] = ["b64 (RFC 7797 unencoded payloads) is not supported; sign the base64url-encoded payload and leave b64 out."];
        }

        if (!header.TryGetProperty("jwk", out var jwk) || jwk.ValueKind != JsonValueKind.Object)
        {
            errors["jws.header.jwk"] = ["jwk (the signer's public key) is required."];
        }
        else
        {
            key = EcKey.TryImport(jwk, errors);
        }

        if (errors.Count > 0)
        {
            key?.Dispose();
            key = null;
            error = new ClaimError(ClaimErrorCodes.InvalidHeader, "The JWS protected header is not valid.", errors);
            return false;
        }

        return true;
    }

    private static string? StringMember(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Truncate(string value) => value.Length <= 32 ? value : value[..32] + "…";

    private static ClaimError Malformed(string message) =>
        ClaimError.Field(ClaimErrorCodes.MalformedJws, "The body is not a compact JWS.", "jws", message);

    private static ClaimError InvalidHeader(string field, string message) =>
        ClaimError.Field(ClaimErrorCodes.InvalidHeader, "The JWS protected header is not valid.", field, message);

    /// <summary>An EC P-256 public key and its RFC 7638 thumbprint.</summary>
    private sealed class EcKey(ECDsa key, string thumbprint) : IDisposable
    {
        public ECDsa Key { get; } = key;

        public string Thumbprint { get; } = thumbprint;

        public static EcKey? TryImport(JsonElement jwk, Dictionary<string, string[]> errors)
        {
            if (StringMember(jwk, "kty") != "EC" || StringMember(jwk, "crv") != "P-256")
            {
                errors["jws.header.jwk"] = ["ES256 needs an EC key on P-256 (kty 'EC', crv 'P-256')."];
                return null;
            }

            if (jwk.TryGetProperty("d", out _))
            {
                errors["jws.header.jwk.d"] = ["The header carries a private key. Remove 'd', and treat that key as exposed."];
                return null;
            }

            var x = StringMember(jwk, "x");
            var y = StringMember(jwk, "y");
            byte[] xBytes = [], yBytes = [];
            if (x is null || !Base64Url.TryDecode(x, out xBytes) || xBytes.Length != 32)
            {
                errors["jws.header.jwk.x"] = ["x must be the 32-byte coordinate in base64url."];
            }

            if (y is null || !Base64Url.TryDecode(y, out yBytes) || yBytes.Length != 32)
            {
                errors["jws.header.jwk.y"] = ["y must be the 32-byte coordinate in base64url."];
            }

            if (errors.Count > 0)
            {
                return null;
            }

            ECDsa? ecdsa = null;
            try
            {
                ecdsa = ECDsa.Create(new ECParameters
                {
                    Curve = ECCurve.NamedCurves.nistP256,
                    Q = new ECPoint { X = xBytes, Y = yBytes },
                });
            }
            catch (CryptographicException)
            {
                ecdsa?.Dispose();
                errors["jws.header.jwk"] = ["The key is not a point on P-256."];
                return null;
            }

            return new EcKey(ecdsa, PartyId.FromEcP256(x!, y!));
        }

        public void Dispose() => Key.Dispose();
    }
}

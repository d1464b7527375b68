using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Org.BouncyCastle.Math.EC.Rfc8032;

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
/// ES256 (an EC P-256 key; the signature is the raw r||s pair, RFC 7518 section 3.4) or EdDSA (an
/// Ed25519 key, RFC 8037; RFC 8032 verification with S below the group order and the key refused
/// when it is not a point of the prime-order subgroup). The party id is the RFC 7638 thumbprint of
/// that key, so no account or key registry is needed.
/// </summary>
public static class CompactJws
{
    public const string ClaimType = "consent-claim";

    /// <summary>ECDSA on P-256 with SHA-256 (RFC 7518 section 3.4).</summary>
    public const string Es256 = "ES256";

    /// <summary>EdDSA (RFC 8037), with an Ed25519 key: the key's <c>crv</c> names the curve.</summary>
    public const string EdDsa = "EdDSA";

    /// <summary>Large enough for 10,000 long URLs; anything bigger is refused before parsing.</summary>
    public const int MaxLength = 8 * 1024 * 1024;

    private const string HeaderField = "jws.header";

    /// <summary>
    /// The protected header's most: it is stored and served with every claim, and a claim is charged
    /// by its subjects, so a header padded with members of no use would be storage nobody pays for.
    /// </summary>
    public const int MaxHeaderBytes = 4 * 1024;

    private const int MaxHeaderChars = (MaxHeaderBytes * 4 + 2) / 3;

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

        if (firstDot > MaxHeaderChars)
        {
            error = InvalidHeader(HeaderField, $"The protected header is at most {MaxHeaderBytes} bytes: alg, typ and the signer's jwk need a few hundred.");
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
            if (signature.Length != SignatureLength)
            {
                error = ClaimError.Field(ClaimErrorCodes.BadSignature, "The signature is not valid.", "jws.signature", key!.SignatureShape);
                return false;
            }

            var signingInput = Encoding.ASCII.GetBytes(compact, 0, secondDot);
            if (!key!.Verify(signingInput, signature))
            {
                error = ClaimError.Field(ClaimErrorCodes.BadSignature, "The signature is not valid.", "jws.signature",
                    "The signature does not verify with the key in the protected header.");
                return false;
            }

            jws = new VerifiedJws(compact, algorithm!, key.Thumbprint, payload, Convert.ToHexStringLower(SHA256.HashData(signingInput)));
            return true;
        }
    }

    /// <summary>Both algorithms sign with 64 bytes: ES256's r and s, Ed25519's R and S.</summary>
    private const int SignatureLength = 64;

    private static bool TryReadHeader(byte[] headerBytes, out string? algorithm, out SignerKey? key, out ClaimError? error)
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

    private static bool ReadHeader(JsonDocument document, out string? algorithm, out SignerKey? key, out ClaimError? error)
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
        if (algorithm is not (Es256 or EdDsa))
        {
            error = ClaimError.Field(ClaimErrorCodes.UnsupportedAlgorithm, "The signing algorithm is not supported.",
                "jws.header.alg", algorithm is null
                    ? $"alg is required; use {Es256} or {EdDsa}."
                    : $"alg '{Truncate(algorithm)}' is not supported; use {Es256} or {EdDsa}.");
            return false;
        }

        // RFC 7515 4.1.9: compared ignoring ASCII case only (OrdinalIgnoreCase would take "conſent-claım"),
        // and "application/" may be left out, so the full media type names the same type.
        if (StringMember(header, "typ") is not { } typ || !(Ascii.EqualsIgnoreCase(typ, ClaimType) || Ascii.EqualsIgnoreCase(typ, "application/" + ClaimType)))
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
            key = algorithm == Es256 ? EcKey.TryImport(jwk, errors) : Ed25519Key.TryImport(jwk, errors);
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

    /// <summary>The signer's public key from the protected header, and its RFC 7638 thumbprint (the party id).</summary>
    private abstract class SignerKey(string thumbprint) : IDisposable
    {
        public string Thumbprint { get; } = thumbprint;

        /// <summary>What a signature of this algorithm looks like, for a signature of the wrong length.</summary>
        public abstract string SignatureShape { get; }

        public abstract bool Verify(byte[] signingInput, byte[] signature);

        public virtual void Dispose()
        {
        }

        /// <summary>Whether <paramref name="jwk"/> is a public key of the kind the algorithm needs; otherwise says why in <paramref name="errors"/>.</summary>
        protected static bool IsPublicKeyOf(JsonElement jwk, string kty, string crv, string wrongKind, Dictionary<string, string[]> errors)
        {
            if (StringMember(jwk, "kty") != kty || StringMember(jwk, "crv") != crv)
            {
                errors["jws.header.jwk"] = [wrongKind];
                return false;
            }

            if (jwk.TryGetProperty("d", out _))
            {
                errors["jws.header.jwk.d"] = ["The header carries a private key. Remove 'd', and treat that key as exposed."];
                return false;
            }

            return true;
        }
    }

    /// <summary>An EC P-256 public key (ES256).</summary>
    private sealed class EcKey(ECDsa key, string thumbprint) : SignerKey(thumbprint)
    {
        public override string SignatureShape => "An ES256 signature is 64 bytes: r and s, 32 bytes each (not DER).";

        public override bool Verify(byte[] signingInput, byte[] signature) =>
            key.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

        public static EcKey? TryImport(JsonElement jwk, Dictionary<string, string[]> errors)
        {
            if (!IsPublicKeyOf(jwk, "EC", "P-256", "ES256 needs an EC key on P-256 (kty 'EC', crv 'P-256').", errors))
            {
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

        public override void Dispose() => key.Dispose();
    }

    /// <summary>An Ed25519 public key (EdDSA, RFC 8037 section 2: <c>kty</c> "OKP", <c>crv</c> "Ed25519", <c>x</c>).</summary>
    private sealed class Ed25519Key(Ed25519.PublicPoint point, string thumbprint) : SignerKey(thumbprint)
    {
        public override string SignatureShape => "An EdDSA (Ed25519) signature is 64 bytes: R and S, 32 bytes each.";

        /// <summary>RFC 8032 section 5.1.7: the library refuses an S at or above the group order and an R that is not a canonical point encoding.</summary>
        public override bool Verify(byte[] signingInput, byte[] signature) => Ed25519.Verify(signature, point, signingInput);

        public static Ed25519Key? TryImport(JsonElement jwk, Dictionary<string, string[]> errors)
        {
            if (!IsPublicKeyOf(jwk, "OKP", "Ed25519", "EdDSA needs an Ed25519 key (kty 'OKP', crv 'Ed25519'); Ed448 is not supported.", errors))
            {
                return null;
            }

            var x = StringMember(jwk, "x");
            if (x is null || !Base64Url.TryDecode(x, out var xBytes) || xBytes.Length != Ed25519.PublicKeySize)
            {
                errors["jws.header.jwk.x"] = ["x must be the 32-byte public key in base64url."];
                return null;
            }

            // The full check: a point on the curve, in canonical form, of the prime order. A key of small
            // order would verify one signature for many messages.
            if (Ed25519.ValidatePublicKeyFullExport(xBytes) is not { } point)
            {
                errors["jws.header.jwk.x"] = ["x is not an Ed25519 public key (not a point of the curve's prime-order group)."];
                return null;
            }

            return new Ed25519Key(point, PartyId.FromEd25519(x));
        }
    }
}

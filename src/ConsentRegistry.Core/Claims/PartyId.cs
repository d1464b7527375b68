using System.Security.Cryptography;
using System.Text;

namespace ConsentRegistry.Core.Claims;

/// <summary>A party is its public key; its id is the key's RFC 7638 JWK SHA-256 thumbprint, base64url.</summary>
public static class PartyId
{
    /// <summary>Length of a SHA-256 thumbprint in base64url.</summary>
    public const int Length = 43;

    public static string FromEcP256(string x, string y)
    {
        // RFC 7638 section 3.2: the required members only, in lexicographic order, no whitespace.
        var canonical = $$"""{"crv":"P-256","kty":"EC","x":"{{x}}","y":"{{y}}"}""";
        return Base64Url.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    /// <summary>The thumbprint of an Ed25519 key (RFC 8037 section 2: its required members are crv, kty and x).</summary>
    public static string FromEd25519(string x)
    {
        var canonical = $$"""{"crv":"Ed25519","kty":"OKP","x":"{{x}}"}""";
        return Base64Url.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    public static bool IsWellFormed(ReadOnlySpan<char> party) =>
        party.Length == Length && Base64Url.TryDecode(party, out var bytes) && bytes.Length == SHA256.HashSizeInBytes;
}

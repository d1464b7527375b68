using System.Buffers;

namespace ConsentRegistry.Core.Claims;

/// <summary>
/// Strict base64url (RFC 7515 section 2): no padding, no whitespace, and only the canonical
/// encoding of the bytes. Refusing non-canonical forms keeps one signed claim from having
/// several JWS strings, and so several claim ids.
/// </summary>
public static class Base64Url
{
    private static readonly SearchValues<char> Alphabet = SearchValues.Create(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    public static bool TryDecode(ReadOnlySpan<char> encoded, out byte[] bytes)
    {
        bytes = [];
        if (encoded.Length % 4 == 1 || encoded.ContainsAnyExcept(Alphabet))
        {
            return false;
        }

        var buffer = new byte[System.Buffers.Text.Base64Url.GetMaxDecodedLength(encoded.Length)];
        if (!System.Buffers.Text.Base64Url.TryDecodeFromChars(encoded, buffer, out var written))
        {
            return false;
        }

        bytes = written == buffer.Length ? buffer : buffer[..written];

        // The last character may carry unused low bits; a canonical encoding leaves them zero.
        return Encode(bytes).AsSpan().SequenceEqual(encoded);
    }

    public static string Encode(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}

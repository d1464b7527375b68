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
        var status = System.Buffers.Text.Base64Url.DecodeFromChars(encoded, buffer, out var consumed, out var written);
        if (status != OperationStatus.Done || consumed != encoded.Length || !UnusedBitsAreZero(encoded))
        {
            return false;
        }

        bytes = written == buffer.Length ? buffer : buffer[..written];
        return true;
    }

    /// <summary>The last character of a partial group carries 2 or 4 unused bits; the canonical encoding leaves them zero.</summary>
    private static bool UnusedBitsAreZero(ReadOnlySpan<char> encoded)
    {
        var unusedBits = (encoded.Length % 4) switch { 2 => 4, 3 => 2, _ => 0 };
        if (unusedBits == 0)
        {
            return true;
        }

        var last = encoded[^1];
        var value = last switch
        {
            >= 'A' and <= 'Z' => last - 'A',
            >= 'a' and <= 'z' => last - 'a' + 26,
            >= '0' and <= '9' => last - '0' + 52,
            '-' => 62,
            _ => 63,
        };
        return (value & ((1 << unusedBits) - 1)) == 0;
    }

    public static string Encode(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);
}

using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace ConsentRegistry.Core.Urls;

/// <summary>
/// The WHATWG host parser for special schemes (IPv6 literal, IPv4 in all its number forms, or a
/// domain through percent-decoding and IDNA), followed by the registry's own rules: the host is
/// lowercase and one trailing dot is dropped.
/// </summary>
internal static class HostParser
{
    public const string InvalidHost = "invalid host";
    public const string InvalidIPv4 = "invalid IPv4 address";
    public const string InvalidIPv6 = "invalid IPv6 address";

    // Forbidden domain code points other than C0 controls, '%' and U+007F (checked by range).
    private static readonly SearchValues<char> ForbiddenDomain = SearchValues.Create(
        "\0\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000A\u000B\u000C\u000D\u000E\u000F" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F" +
        " #%/:<>?@[\\]^|\u007F");

    /// <summary>
    /// Parses <paramref name="input"/> (the host part of a URL, non-empty) and appends the
    /// canonical host to <paramref name="output"/>.
    /// </summary>
    public static bool TryParse(scoped ReadOnlySpan<char> input, ref ValueBuffer<char> output, [NotNullWhen(false)] out string? error)
    {
        if (input.IsEmpty)
        {
            error = InvalidHost;
            return false;
        }

        if (input[0] == '[')
        {
            Span<ushort> pieces = stackalloc ushort[8];
            if (input.Length < 2 || input[^1] != ']' || !TryParseIPv6(input[1..^1], pieces))
            {
                error = InvalidIPv6;
                return false;
            }

            output.Append('[');
            SerializeIPv6(pieces, ref output);
            output.Append(']');
            error = null;
            return true;
        }

        int hostStart = output.Length;
        bool ok;
        if (!input.ContainsAnyExceptInRange((char)0, (char)0x7F) && !input.Contains('%'))
        {
            ok = AppendAsciiDomain(input, ref output);
        }
        else
        {
            ok = AppendDecodedDomain(input, ref output);
        }

        if (!ok || output.Length == hostStart || output.Span[hostStart..].ContainsAny(ForbiddenDomain))
        {
            error = InvalidHost;
            return false;
        }

        ReadOnlySpan<char> domain = output.Span[hostStart..];
        if (EndsInANumber(domain))
        {
            if (!TryParseIPv4(domain, out uint address))
            {
                error = InvalidIPv4;
                return false;
            }

            output.Length = hostStart;
            SerializeIPv4(address, ref output);
            error = null;
            return true;
        }

        // Registry rule: drop one trailing dot ("example.com." is "example.com"). A host that would
        // still end in a dot (or be empty) has an empty last label: refused, so that the canonical
        // form parses back to itself.
        if (domain[^1] == '.')
        {
            if (domain.Length == 1 || domain[^2] == '.')
            {
                error = InvalidHost;
                return false;
            }

            output.Length--;
        }

        error = null;
        return true;
    }

    private static bool AppendAsciiDomain(scoped ReadOnlySpan<char> domain, ref ValueBuffer<char> output)
    {
        foreach (char c in domain)
        {
            output.Append(c is >= 'A' and <= 'Z' ? (char)(c | 0x20) : c);
        }

        return true;
    }

    // Percent-decode to bytes, UTF-8 decode (invalid sequences become U+FFFD), then domain to ASCII.
    private static bool AppendDecodedDomain(scoped ReadOnlySpan<char> input, ref ValueBuffer<char> output)
    {
        var bytes = new ValueBuffer<byte>(stackalloc byte[256]);
        var chars = new ValueBuffer<char>(stackalloc char[128]);
        try
        {
            Span<byte> utf8 = stackalloc byte[4];
            for (int i = 0; i < input.Length; i++)
            {
                char c = input[i];
                if (c == '%' && i + 2 < input.Length && IsHex(input[i + 1]) && IsHex(input[i + 2]))
                {
                    bytes.Append((byte)((HexValue(input[i + 1]) << 4) | HexValue(input[i + 2])));
                    i += 2;
                }
                else if (c < 0x80)
                {
                    bytes.Append((byte)c);
                }
                else
                {
                    int cp = c;
                    if (char.IsHighSurrogate(c) && i + 1 < input.Length && char.IsLowSurrogate(input[i + 1]))
                    {
                        cp = char.ConvertToUtf32(c, input[++i]);
                    }
                    else if (char.IsSurrogate(c))
                    {
                        cp = 0xFFFD;
                    }

                    int n = new Rune(cp).EncodeToUtf8(utf8);
                    bytes.Append(utf8[..n]);
                }
            }

            ReadOnlySpan<byte> decoded = bytes.Span;
            Span<char> pair = stackalloc char[2];
            for (int i = 0; i < decoded.Length;)
            {
                OperationStatus status = Rune.DecodeFromUtf8(decoded[i..], out Rune rune, out int consumed);
                if (status != OperationStatus.Done)
                {
                    rune = Rune.ReplacementChar;
                }

                int count = rune.EncodeToUtf16(pair);
                chars.Append(pair[..count]);
                i += consumed;
            }

            ReadOnlySpan<char> domain = chars.Span;
            return domain.ContainsAnyExceptInRange((char)0, (char)0x7F)
                ? Idna.TryToAscii(domain, ref output)
                : AppendAsciiDomain(domain, ref output);
        }
        finally
        {
            bytes.Dispose();
            chars.Dispose();
        }
    }

    // ---- IPv4 ---------------------------------------------------------------------------

    private static bool EndsInANumber(ReadOnlySpan<char> domain)
    {
        if (domain[^1] == '.')
        {
            domain = domain[..^1];
        }

        ReadOnlySpan<char> last = domain[(domain.LastIndexOf('.') + 1)..];
        if (last.IsEmpty)
        {
            return false;
        }

        return !last.ContainsAnyExceptInRange('0', '9') || TryParseIPv4Number(last, out _);
    }

    private static bool TryParseIPv4(ReadOnlySpan<char> domain, out uint address)
    {
        address = 0;
        if (domain[^1] == '.')
        {
            domain = domain[..^1];
        }

        Span<ulong> numbers = stackalloc ulong[4];
        int count = 0;
        while (true)
        {
            int dot = domain.IndexOf('.');
            ReadOnlySpan<char> part = dot < 0 ? domain : domain[..dot];
            if (count == 4 || !TryParseIPv4Number(part, out numbers[count]))
            {
                return false;
            }

            count++;
            if (dot < 0)
            {
                break;
            }

            domain = domain[(dot + 1)..];
        }

        for (int i = 0; i < count - 1; i++)
        {
            if (numbers[i] > 255)
            {
                return false;
            }
        }

        ulong last = numbers[count - 1];
        if (last >= 1UL << (8 * (5 - count)))
        {
            return false;
        }

        ulong value = last;
        for (int i = 0; i < count - 1; i++)
        {
            value += numbers[i] << (8 * (3 - i));
        }

        address = (uint)value;
        return true;
    }

    // Values that do not fit in 33 bits are clamped: they fail the range checks all the same.
    private static bool TryParseIPv4Number(ReadOnlySpan<char> part, out ulong value)
    {
        value = 0;
        if (part.IsEmpty)
        {
            return false;
        }

        uint radix = 10;
        if (part.Length >= 2 && part[0] == '0' && (part[1] | 0x20) == 'x')
        {
            part = part[2..];
            radix = 16;
        }
        else if (part.Length >= 2 && part[0] == '0')
        {
            part = part[1..];
            radix = 8;
        }

        foreach (char c in part)
        {
            uint digit = c switch
            {
                >= '0' and <= '9' => (uint)(c - '0'),
                >= 'a' and <= 'f' => (uint)(c - 'a' + 10),
                >= 'A' and <= 'F' => (uint)(c - 'A' + 10),
                _ => uint.MaxValue,
            };
            if (digit >= radix)
            {
                return false;
            }

            value = Math.Min((value * radix) + digit, 1UL << 33);
        }

        return true;
    }

    private static void SerializeIPv4(uint address, ref ValueBuffer<char> output)
    {
        for (int shift = 24; shift >= 0; shift -= 8)
        {
            AppendDecimal((address >> shift) & 0xFF, ref output);
            if (shift != 0)
            {
                output.Append('.');
            }
        }
    }

    internal static void AppendDecimal(uint value, ref ValueBuffer<char> output)
    {
        Span<char> digits = stackalloc char[10];
        value.TryFormat(digits, out int written, default, System.Globalization.CultureInfo.InvariantCulture);
        output.Append(digits[..written]);
    }

    // ---- IPv6 ---------------------------------------------------------------------------

    private static bool TryParseIPv6(ReadOnlySpan<char> input, Span<ushort> address)
    {
        address.Clear();
        int pieceIndex = 0;
        int compress = -1;
        int p = 0;
        if (p < input.Length && input[p] == ':')
        {
            if (p + 1 >= input.Length || input[p + 1] != ':')
            {
                return false;
            }

            p += 2;
            pieceIndex++;
            compress = pieceIndex;
        }

        while (p < input.Length)
        {
            if (pieceIndex == 8)
            {
                return false;
            }

            if (input[p] == ':')
            {
                if (compress >= 0)
                {
                    return false;
                }

                p++;
                pieceIndex++;
                compress = pieceIndex;
                continue;
            }

            int value = 0;
            int length = 0;
            while (length < 4 && p < input.Length && IsHex(input[p]))
            {
                value = (value * 16) + HexValue(input[p]);
                p++;
                length++;
            }

            if (p < input.Length && input[p] == '.')
            {
                if (length == 0)
                {
                    return false;
                }

                p -= length;
                if (pieceIndex > 6)
                {
                    return false;
                }

                int numbersSeen = 0;
                while (p < input.Length)
                {
                    int ipv4Piece = -1;
                    if (numbersSeen > 0)
                    {
                        if (input[p] == '.' && numbersSeen < 4)
                        {
                            p++;
                        }
                        else
                        {
                            return false;
                        }
                    }

                    if (p >= input.Length || !char.IsAsciiDigit(input[p]))
                    {
                        return false;
                    }

                    while (p < input.Length && char.IsAsciiDigit(input[p]))
                    {
                        int number = input[p] - '0';
                        if (ipv4Piece < 0)
                        {
                            ipv4Piece = number;
                        }
                        else if (ipv4Piece == 0)
                        {
                            return false;
                        }
                        else
                        {
                            ipv4Piece = (ipv4Piece * 10) + number;
                        }

                        if (ipv4Piece > 255)
                        {
                            return false;
                        }

                        p++;
                    }

                    address[pieceIndex] = (ushort)((address[pieceIndex] * 0x100) + ipv4Piece);
                    numbersSeen++;
                    if (numbersSeen is 2 or 4)
                    {
                        pieceIndex++;
                    }
                }

                if (numbersSeen != 4)
                {
                    return false;
                }

                break;
            }

            if (p < input.Length && input[p] == ':')
            {
                p++;
                if (p >= input.Length)
                {
                    return false;
                }
            }
            else if (p < input.Length)
            {
                return false;
            }

            address[pieceIndex] = (ushort)value;
            pieceIndex++;
        }

        if (compress >= 0)
        {
            int swaps = pieceIndex - compress;
            pieceIndex = 7;
            while (pieceIndex != 0 && swaps > 0)
            {
                (address[pieceIndex], address[compress + swaps - 1]) = (address[compress + swaps - 1], address[pieceIndex]);
                pieceIndex--;
                swaps--;
            }
        }
        else if (pieceIndex != 8)
        {
            return false;
        }

        return true;
    }

    private static void SerializeIPv6(scoped ReadOnlySpan<ushort> address, ref ValueBuffer<char> output)
    {
        // The first longest run of two or more zero pieces is compressed.
        int compress = -1;
        int bestLength = 1;
        for (int i = 0; i < 8;)
        {
            if (address[i] != 0)
            {
                i++;
                continue;
            }

            int j = i;
            while (j < 8 && address[j] == 0)
            {
                j++;
            }

            if (j - i > bestLength)
            {
                compress = i;
                bestLength = j - i;
            }

            i = j;
        }

        Span<char> hex = stackalloc char[4];
        for (int i = 0; i < 8; i++)
        {
            if (i == compress)
            {
                output.Append(i == 0 ? "::" : ":");
                i += bestLength - 1;
                continue;
            }

            address[i].TryFormat(hex, out int written, "x", System.Globalization.CultureInfo.InvariantCulture);
            output.Append(hex[..written]);
            if (i != 7)
            {
                output.Append(':');
            }
        }
    }

    internal static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    internal static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

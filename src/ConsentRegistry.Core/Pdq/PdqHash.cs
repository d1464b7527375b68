using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace ConsentRegistry.Core.Pdq;

/// <summary>
/// A 256-bit PDQ hash. Bit k is bit (k &amp; 15) of 16-bit word (k &gt;&gt; 4), as in Meta's reference;
/// the words are stored four to a <see cref="ulong"/> (word w in bits 16·(w &amp; 3) of ulong w &gt;&gt; 2),
/// so bit k is also bit (k &amp; 63) of ulong (k &gt;&gt; 6).
/// </summary>
public readonly struct PdqHash : IEquatable<PdqHash>
{
    /// <summary>Number of bits in a hash.</summary>
    public const int BitCount = 256;

    /// <summary>Number of 16-bit words in a hash.</summary>
    public const int WordCount = 16;

    /// <summary>Length of the hex form.</summary>
    public const int HexLength = 64;

    private readonly ulong _u0, _u1, _u2, _u3;

    /// <summary>Builds a hash from its four 64-bit parts; part p holds bits 64·p to 64·p + 63.</summary>
    public PdqHash(ulong bits0To63, ulong bits64To127, ulong bits128To191, ulong bits192To255)
    {
        _u0 = bits0To63;
        _u1 = bits64To127;
        _u2 = bits128To191;
        _u3 = bits192To255;
    }

    /// <summary>The all-zero hash (what images under 5 pixels in a dimension hash to).</summary>
    public static PdqHash Zero => default;

    /// <summary>Whether every bit is clear.</summary>
    public bool IsZero => (_u0 | _u1 | _u2 | _u3) == 0;

    /// <summary>Builds a hash from its 16 words, word 0 first (words[w] holds bits 16·w to 16·w + 15).</summary>
    public static PdqHash FromWords(ReadOnlySpan<ushort> words)
    {
        if (words.Length != WordCount)
        {
            throw new ArgumentException($"A PDQ hash has {WordCount} words, not {words.Length}.", nameof(words));
        }

        return new PdqHash(Pack(words, 0), Pack(words, 4), Pack(words, 8), Pack(words, 12));

        static ulong Pack(ReadOnlySpan<ushort> w, int i) =>
            w[i] | ((ulong)w[i + 1] << 16) | ((ulong)w[i + 2] << 32) | ((ulong)w[i + 3] << 48);
    }

    /// <summary>Gets one of the 64-bit parts; part p holds bits 64·p to 64·p + 63.</summary>
    public ulong GetPart(int index) => index switch
    {
        0 => _u0,
        1 => _u1,
        2 => _u2,
        3 => _u3,
        _ => throw new ArgumentOutOfRangeException(nameof(index), index, "A PDQ hash has 4 parts of 64 bits."),
    };

    /// <summary>Gets 16-bit word <paramref name="index"/> (0 to 15): bits 16·index to 16·index + 15.</summary>
    public ushort GetWord(int index)
    {
        if ((uint)index >= WordCount)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, "A PDQ hash has 16 words.");
        }

        return (ushort)(GetPart(index >> 2) >> ((index & 3) << 4));
    }

    /// <summary>Gets bit <paramref name="index"/> (0 to 255).</summary>
    public bool GetBit(int index)
    {
        if ((uint)index >= BitCount)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, "A PDQ hash has 256 bits.");
        }

        return ((GetPart(index >> 6) >> (index & 63)) & 1) != 0;
    }

    /// <summary>Number of set bits.</summary>
    public int PopCount() =>
        BitOperations.PopCount(_u0) + BitOperations.PopCount(_u1) +
        BitOperations.PopCount(_u2) + BitOperations.PopCount(_u3);

    /// <summary>Number of bits in which this hash and <paramref name="other"/> differ (0 to 256).</summary>
    public int HammingDistance(in PdqHash other) =>
        BitOperations.PopCount(_u0 ^ other._u0) + BitOperations.PopCount(_u1 ^ other._u1) +
        BitOperations.PopCount(_u2 ^ other._u2) + BitOperations.PopCount(_u3 ^ other._u3);

    /// <summary>
    /// The reference's text form: 64 lower-case hex digits, the 16 words from word 15 down to word 0,
    /// each as 4 digits (<c>%04hx</c>).
    /// </summary>
    public string ToHex() => string.Create(HexLength, this, static (chars, hash) => hash.FormatHex(chars));

    /// <summary>Writes the hex form into <paramref name="destination"/> (at least 64 chars).</summary>
    public bool TryFormatHex(Span<char> destination, out int charsWritten)
    {
        if (destination.Length < HexLength)
        {
            charsWritten = 0;
            return false;
        }

        FormatHex(destination);
        charsWritten = HexLength;
        return true;
    }

    private void FormatHex(Span<char> chars)
    {
        const string digits = "0123456789abcdef";
        int c = 0;
        for (int part = 3; part >= 0; part--)
        {
            ulong u = GetPart(part);
            // Within a part, word 3 (the high 16 bits) comes first, most significant digit first:
            // that is just the part's 16 hex digits from the top.
            for (int shift = 60; shift >= 0; shift -= 4)
            {
                chars[c++] = digits[(int)((u >> shift) & 0xF)];
            }
        }
    }

    /// <summary>
    /// Parses the reference's hex form (exactly 64 hex digits, either case, no prefix or spaces).
    /// </summary>
    public static bool TryParseHex(ReadOnlySpan<char> hex, out PdqHash hash)
    {
        hash = default;
        if (hex.Length != HexLength)
        {
            return false;
        }

        Span<ulong> parts = stackalloc ulong[4];
        for (int part = 0; part < 4; part++)
        {
            // The text holds part 3 first.
            ReadOnlySpan<char> digits = hex.Slice((3 - part) * 16, 16);
            ulong u = 0;
            foreach (char ch in digits)
            {
                int v = HexValue(ch);
                if (v < 0)
                {
                    return false;
                }

                u = (u << 4) | (uint)v;
            }

            parts[part] = u;
        }

        hash = new PdqHash(parts[0], parts[1], parts[2], parts[3]);
        return true;
    }

    /// <inheritdoc cref="TryParseHex(ReadOnlySpan{char}, out PdqHash)"/>
    public static bool TryParseHex([NotNullWhen(true)] string? hex, out PdqHash hash)
    {
        if (hex is null)
        {
            hash = default;
            return false;
        }

        return TryParseHex(hex.AsSpan(), out hash);
    }

    /// <summary>Parses the hex form, throwing <see cref="FormatException"/> when it is malformed.</summary>
    public static PdqHash ParseHex(string hex) =>
        TryParseHex(hex, out var hash)
            ? hash
            : throw new FormatException("A PDQ hash is 64 hex digits.");

    private static int HexValue(char ch) => ch switch
    {
        >= '0' and <= '9' => ch - '0',
        >= 'a' and <= 'f' => ch - 'a' + 10,
        >= 'A' and <= 'F' => ch - 'A' + 10,
        _ => -1,
    };

    /// <inheritdoc/>
    public bool Equals(PdqHash other) =>
        _u0 == other._u0 && _u1 == other._u1 && _u2 == other._u2 && _u3 == other._u3;

    /// <inheritdoc/>
    public override bool Equals([NotNullWhen(true)] object? obj) => obj is PdqHash other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_u0, _u1, _u2, _u3);

    /// <summary>The hex form.</summary>
    public override string ToString() => ToHex();

    /// <summary>Equality of all 256 bits.</summary>
    public static bool operator ==(PdqHash left, PdqHash right) => left.Equals(right);

    /// <summary>Inequality of any bit.</summary>
    public static bool operator !=(PdqHash left, PdqHash right) => !left.Equals(right);
}

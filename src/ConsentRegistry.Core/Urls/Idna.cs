namespace ConsentRegistry.Core.Urls;

/// <summary>
/// UTS #46 ToASCII as the WHATWG URL standard's "domain to ASCII" runs it: CheckHyphens=false,
/// CheckBidi=true, CheckJoiners=true, UseSTD3ASCIIRules=false, Transitional_Processing=false,
/// VerifyDnsLength=false, IgnoreInvalidPunycode=false.
/// </summary>
/// <remarks>
/// The process runs with InvariantGlobalization, where <see cref="System.Globalization.IdnMapping"/>
/// neither maps (case folding, NFKC, ignored code points) nor validates, and string normalization
/// does not compose; so this carries its own Unicode data (<see cref="IdnaData"/>, generated).
/// Only non-ASCII domains come here: the caller lowercases all-ASCII domains itself, as the URL
/// standard does.
/// </remarks>
internal static class Idna
{
    private const int StatusValid = 0;
    private const int StatusMapped = 1;
    private const int StatusIgnored = 2;

    private const int BidiL = 0;
    private const int BidiR = 1;
    private const int BidiAL = 2;
    private const int BidiAN = 3;
    private const int BidiEN = 4;
    private const int BidiES = 5;
    private const int BidiCS = 6;
    private const int BidiET = 7;
    private const int BidiON = 8;
    private const int BidiBN = 9;
    private const int BidiNSM = 10;

    private const int JoiningL = 1;
    private const int JoiningR = 2;
    private const int JoiningD = 3;
    private const int JoiningT = 4;

    private const int Zwnj = 0x200C;
    private const int Zwj = 0x200D;
    private const int Virama = 9;

    /// <summary>Appends the ASCII form of <paramref name="domain"/>; false if it is not a valid IDNA domain.</summary>
    public static bool TryToAscii(scoped ReadOnlySpan<char> domain, ref ValueBuffer<char> output)
    {
        var mapped = new ValueBuffer<int>(stackalloc int[128]);
        var normalized = new ValueBuffer<int>(stackalloc int[128]);
        var unicode = new ValueBuffer<int>(default); // pooled: it is passed by ref beside output
        try
        {
            return TryMap(domain, ref mapped)
                && Normalize(mapped.Span, ref normalized)
                && TryConvertLabels(normalized.Span, ref unicode, ref output);
        }
        finally
        {
            mapped.Dispose();
            normalized.Dispose();
            unicode.Dispose();
        }
    }

    // Step 1 of UTS #46 processing: map, drop ignored, refuse disallowed.
    private static bool TryMap(scoped ReadOnlySpan<char> domain, ref ValueBuffer<int> mapped)
    {
        for (int i = 0; i < domain.Length; i++)
        {
            int cp = domain[i];
            if (char.IsSurrogate((char)cp))
            {
                if (!char.IsHighSurrogate((char)cp) || i + 1 >= domain.Length || !char.IsLowSurrogate(domain[i + 1]))
                {
                    return false; // a lone surrogate is U+FFFD, which is disallowed
                }

                cp = char.ConvertToUtf32((char)cp, domain[++i]);
            }

            uint info = MapInfo(cp);
            switch ((int)(info & 7))
            {
                case StatusValid:
                    mapped.Append(cp);
                    break;
                case StatusMapped:
                    AppendCodePoints(IdnaData.MapPool.AsSpan((int)(info >> 8), (int)((info >> 3) & 31)), ref mapped);
                    break;
                case StatusIgnored:
                    break;
                default:
                    return false;
            }
        }

        return true;
    }

    // Steps 3-5: split into labels, decode and validate, encode.
    private static bool TryConvertLabels(scoped ReadOnlySpan<int> domain, ref ValueBuffer<int> unicode, ref ValueBuffer<char> output)
    {
        bool bidiDomain = false;
        int start = 0;
        Span<char> acePart = stackalloc char[64];
        while (true)
        {
            int end = domain[start..].IndexOf('.');
            end = end < 0 ? domain.Length : start + end;
            ReadOnlySpan<int> label = domain[start..end];
            int unicodeStart = unicode.Length;
            if (StartsWithAcePrefix(label))
            {
                var ascii = new ValueBuffer<char>(acePart);
                try
                {
                    foreach (int cp in label[4..])
                    {
                        if (cp >= 0x80)
                        {
                            return false;
                        }

                        ascii.Append((char)cp);
                    }

                    if (!Punycode.TryDecode(ascii.Span, ref unicode))
                    {
                        return false;
                    }
                }
                finally
                {
                    ascii.Dispose();
                }

                ReadOnlySpan<int> decoded = unicode.Span[unicodeStart..];
                if (decoded.IsEmpty || IsAscii(decoded) || !IsNormalized(decoded) || !IsValidLabel(decoded))
                {
                    return false;
                }

                foreach (int cp in label)
                {
                    output.Append((char)cp);
                }
            }
            else
            {
                // Labels of an NFC string split at U+002E are themselves NFC.
                if (!IsValidLabel(label))
                {
                    return false;
                }

                unicode.Append(label);
                if (IsAscii(label))
                {
                    foreach (int cp in label)
                    {
                        output.Append((char)cp);
                    }
                }
                else
                {
                    output.Append("xn--");
                    if (!Punycode.TryEncode(label, ref output))
                    {
                        return false;
                    }
                }
            }

            if (!bidiDomain)
            {
                foreach (int cp in unicode.Span[unicodeStart..])
                {
                    int bidi = Bidi(cp);
                    if (bidi is BidiR or BidiAL or BidiAN)
                    {
                        bidiDomain = true;
                        break;
                    }
                }
            }

            if (end == domain.Length)
            {
                break;
            }

            output.Append('.');
            unicode.Append('.');
            start = end + 1;
        }

        if (bidiDomain)
        {
            ReadOnlySpan<int> all = unicode.Span;
            while (true)
            {
                int end = all.IndexOf('.');
                if (!SatisfiesBidiRule(end < 0 ? all : all[..end]))
                {
                    return false;
                }

                if (end < 0)
                {
                    break;
                }

                all = all[(end + 1)..];
            }
        }

        return true;
    }

    // UTS #46 section 4.1 validity criteria (CheckHyphens=false, CheckJoiners=true; bidi is
    // checked across the domain afterwards).
    private static bool IsValidLabel(ReadOnlySpan<int> label)
    {
        if (label.IsEmpty)
        {
            return true;
        }

        if (StartsWithAcePrefix(label) || IsMark(label[0]))
        {
            return false;
        }

        for (int i = 0; i < label.Length; i++)
        {
            int cp = label[i];
            if (cp == '.' || (MapInfo(cp) & 7) != StatusValid)
            {
                return false;
            }

            if (cp is Zwnj or Zwj && !IsJoinerAllowed(label, i))
            {
                return false;
            }
        }

        return true;
    }

    // RFC 5892 appendix A.1 and A.2 (CONTEXTJ).
    private static bool IsJoinerAllowed(ReadOnlySpan<int> label, int index)
    {
        if (index > 0 && Ccc(label[index - 1]) == Virama)
        {
            return true;
        }

        if (label[index] == Zwj)
        {
            return false;
        }

        int left = index - 1;
        while (left >= 0 && Joining(label[left]) == JoiningT)
        {
            left--;
        }

        if (left < 0 || Joining(label[left]) is not (JoiningL or JoiningD))
        {
            return false;
        }

        int right = index + 1;
        while (right < label.Length && Joining(label[right]) == JoiningT)
        {
            right++;
        }

        return right < label.Length && Joining(label[right]) is JoiningR or JoiningD;
    }

    // RFC 5893 section 2, for every label of a domain that has an RTL character.
    private static bool SatisfiesBidiRule(ReadOnlySpan<int> label)
    {
        if (label.IsEmpty)
        {
            return true;
        }

        int first = Bidi(label[0]);
        int last = label.Length - 1;
        while (last > 0 && Bidi(label[last]) == BidiNSM)
        {
            last--;
        }

        int end = Bidi(label[last]);
        if (first is BidiR or BidiAL)
        {
            bool hasEN = false;
            bool hasAN = false;
            foreach (int cp in label)
            {
                switch (Bidi(cp))
                {
                    case BidiEN:
                        hasEN = true;
                        break;
                    case BidiAN:
                        hasAN = true;
                        break;
                    case BidiR or BidiAL or BidiES or BidiCS or BidiET or BidiON or BidiBN or BidiNSM:
                        break;
                    default:
                        return false;
                }
            }

            return !(hasEN && hasAN) && end is BidiR or BidiAL or BidiEN or BidiAN;
        }

        if (first != BidiL)
        {
            return false;
        }

        foreach (int cp in label)
        {
            if (Bidi(cp) is not (BidiL or BidiEN or BidiES or BidiCS or BidiET or BidiON or BidiBN or BidiNSM))
            {
                return false;
            }
        }

        return end is BidiL or BidiEN;
    }

    private static bool StartsWithAcePrefix(ReadOnlySpan<int> label) =>
        label.Length >= 4 && label[0] == 'x' && label[1] == 'n' && label[2] == '-' && label[3] == '-';

    private static bool IsAscii(ReadOnlySpan<int> s)
    {
        foreach (int cp in s)
        {
            if (cp >= 0x80)
            {
                return false;
            }
        }

        return true;
    }

    private static void AppendCodePoints(scoped ReadOnlySpan<char> utf16, ref ValueBuffer<int> output)
    {
        for (int i = 0; i < utf16.Length; i++)
        {
            char c = utf16[i];
            output.Append(char.IsHighSurrogate(c) ? char.ConvertToUtf32(c, utf16[++i]) : c);
        }
    }

    // ---- Unicode normalization form C (UAX #15) --------------------------------------------

    private const int SBase = 0xAC00;
    private const int LBase = 0x1100;
    private const int VBase = 0x1161;
    private const int TBase = 0x11A7;
    private const int LCount = 19;
    private const int VCount = 21;
    private const int TCount = 28;
    private const int NCount = VCount * TCount;
    private const int SCount = LCount * NCount;

    private static bool IsNormalized(ReadOnlySpan<int> s)
    {
        var normalized = new ValueBuffer<int>(stackalloc int[64]);
        try
        {
            Normalize(s, ref normalized);
            return normalized.Span.SequenceEqual(s);
        }
        finally
        {
            normalized.Dispose();
        }
    }

    /// <summary>Appends NFC of <paramref name="input"/> to <paramref name="output"/>; always true.</summary>
    internal static bool Normalize(scoped ReadOnlySpan<int> input, ref ValueBuffer<int> output)
    {
        int start = output.Length;
        foreach (int cp in input)
        {
            Decompose(cp, ref output);
        }

        // Canonical ordering: a stable sort of each run of non-starters by combining class.
        Span<int> s = output.Span[start..];
        for (int i = 1; i < s.Length; i++)
        {
            int cp = s[i];
            int ccc = Ccc(cp);
            if (ccc == 0)
            {
                continue;
            }

            int j = i;
            while (j > 0 && Ccc(s[j - 1]) > ccc)
            {
                s[j] = s[j - 1];
                j--;
            }

            s[j] = cp;
        }

        // Canonical composition.
        if (s.Length > 1)
        {
            int starterIndex = 0;
            int lastClass = Ccc(s[0]) == 0 ? 0 : 256;
            int written = 1;
            for (int i = 1; i < s.Length; i++)
            {
                int cp = s[i];
                int ccc = Ccc(cp);
                if ((lastClass < ccc || lastClass == 0) && lastClass != 256)
                {
                    int composite = Compose(s[starterIndex], cp);
                    if (composite >= 0)
                    {
                        s[starterIndex] = composite;
                        continue;
                    }
                }

                if (ccc == 0)
                {
                    starterIndex = written;
                    lastClass = 0;
                }
                else
                {
                    lastClass = ccc;
                }

                s[written++] = cp;
            }

            output.Length = start + written;
        }

        return true;
    }

    private static void Decompose(int cp, ref ValueBuffer<int> output)
    {
        if (cp < 0xC0)
        {
            output.Append(cp);
            return;
        }

        int sIndex = cp - SBase;
        if ((uint)sIndex < SCount)
        {
            output.Append(LBase + (sIndex / NCount));
            output.Append(VBase + ((sIndex % NCount) / TCount));
            int t = sIndex % TCount;
            if (t != 0)
            {
                output.Append(TBase + t);
            }

            return;
        }

        int found = IdnaData.DecompCps.BinarySearch(cp);
        if (found < 0)
        {
            output.Append(cp);
            return;
        }

        uint info = IdnaData.DecompInfo[found];
        AppendCodePoints(IdnaData.DecompPool.AsSpan((int)(info >> 4), (int)(info & 15)), ref output);
    }

    private static int Compose(int first, int second)
    {
        int lIndex = first - LBase;
        if ((uint)lIndex < LCount)
        {
            int vIndex = second - VBase;
            return (uint)vIndex < VCount ? SBase + (((lIndex * VCount) + vIndex) * TCount) : -1;
        }

        int sIndex = first - SBase;
        if ((uint)sIndex < SCount && sIndex % TCount == 0)
        {
            int tIndex = second - TBase;
            return tIndex > 0 && tIndex < TCount ? first + tIndex : -1;
        }

        int found = IdnaData.CompKeys.BinarySearch(((long)first << 21) | (uint)second);
        return found < 0 ? -1 : IdnaData.CompValues[found];
    }

    // ---- Table look-ups ------------------------------------------------------------------

    private static uint MapInfo(int cp) => IdnaData.MapInfo[FindRange(IdnaData.MapStarts, cp)];

    private static int Props(int cp) => IdnaData.PropValues[FindRange(IdnaData.PropStarts, cp)];

    private static int Ccc(int cp) => cp < 0x300 ? 0 : Props(cp) & 0xFF;

    private static int Bidi(int cp) => (Props(cp) >> 8) & 0xF;

    private static int Joining(int cp) => (Props(cp) >> 12) & 0x7;

    private static bool IsMark(int cp) => (Props(cp) & 0x8000) != 0;

    /// <summary>Index of the last range whose start is at most <paramref name="cp"/>.</summary>
    private static int FindRange(ReadOnlySpan<int> starts, int cp)
    {
        int lo = 0;
        int hi = starts.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >>> 1;
            if (starts[mid] <= cp)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }
}

namespace ConsentRegistry.Core.Urls;

/// <summary>Punycode (RFC 3492) for IDNA labels, on code points.</summary>
internal static class Punycode
{
    private const int Base = 36;
    private const int TMin = 1;
    private const int TMax = 26;
    private const int Skew = 38;
    private const int Damp = 700;
    private const int InitialBias = 72;
    private const int InitialN = 0x80;

    /// <summary>Appends the Punycode form of <paramref name="label"/> (without "xn--").</summary>
    public static bool TryEncode(scoped ReadOnlySpan<int> label, ref ValueBuffer<char> output)
    {
        int basicCount = 0;
        foreach (int cp in label)
        {
            if (cp < 0x80)
            {
                output.Append((char)cp);
                basicCount++;
            }
        }

        if (basicCount > 0)
        {
            output.Append('-');
        }

        int n = InitialN;
        int delta = 0;
        int bias = InitialBias;
        int handled = basicCount;
        while (handled < label.Length)
        {
            int m = int.MaxValue;
            foreach (int cp in label)
            {
                if (cp >= n && cp < m)
                {
                    m = cp;
                }
            }

            long grown = delta + ((long)(m - n) * (handled + 1));
            if (grown > int.MaxValue)
            {
                return false;
            }

            delta = (int)grown;
            n = m;
            foreach (int cp in label)
            {
                if (cp < n)
                {
                    if (delta == int.MaxValue)
                    {
                        return false;
                    }

                    delta++;
                }
                else if (cp == n)
                {
                    int q = delta;
                    for (int k = Base; ; k += Base)
                    {
                        int t = Threshold(k, bias);
                        if (q < t)
                        {
                            break;
                        }

                        output.Append(EncodeDigit(t + ((q - t) % (Base - t))));
                        q = (q - t) / (Base - t);
                    }

                    output.Append(EncodeDigit(q));
                    bias = Adapt(delta, handled + 1, handled == basicCount);
                    delta = 0;
                    handled++;
                }
            }

            delta++;
            n++;
        }

        return true;
    }

    /// <summary>Appends the code points that <paramref name="encoded"/> (without "xn--") stands for.</summary>
    public static bool TryDecode(scoped ReadOnlySpan<char> encoded, ref ValueBuffer<int> output)
    {
        int start = output.Length;
        int delimiter = encoded.LastIndexOf('-');
        int inPos = 0;
        if (delimiter > 0)
        {
            for (int j = 0; j < delimiter; j++)
            {
                if (encoded[j] >= 0x80)
                {
                    return false;
                }

                output.Append(encoded[j]);
            }

            inPos = delimiter + 1;
        }

        int n = InitialN;
        int i = 0;
        int bias = InitialBias;
        while (inPos < encoded.Length)
        {
            int oldI = i;
            int w = 1;
            for (int k = Base; ; k += Base)
            {
                if (inPos >= encoded.Length)
                {
                    return false;
                }

                int digit = DecodeDigit(encoded[inPos++]);
                if (digit < 0 || digit > (int.MaxValue - i) / w)
                {
                    return false;
                }

                i += digit * w;
                int t = Threshold(k, bias);
                if (digit < t)
                {
                    break;
                }

                if (w > int.MaxValue / (Base - t))
                {
                    return false;
                }

                w *= Base - t;
            }

            int count = output.Length - start + 1;
            bias = Adapt(i - oldI, count, oldI == 0);
            if (i / count > int.MaxValue - n)
            {
                return false;
            }

            n += i / count;
            i %= count;
            if (n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF))
            {
                return false;
            }

            output.Insert(start + i, n);
            i++;
        }

        return true;
    }

    private static int Threshold(int k, int bias) =>
        k <= bias ? TMin : k >= bias + TMax ? TMax : k - bias;

    private static int Adapt(int delta, int numPoints, bool firstTime)
    {
        delta = firstTime ? delta / Damp : delta / 2;
        delta += delta / numPoints;
        int k = 0;
        while (delta > ((Base - TMin) * TMax) / 2)
        {
            delta /= Base - TMin;
            k += Base;
        }

        return k + (((Base - TMin + 1) * delta) / (delta + Skew));
    }

    private static char EncodeDigit(int d) => (char)(d < 26 ? 'a' + d : '0' + (d - 26));

    private static int DecodeDigit(char c) => c switch
    {
        >= '0' and <= '9' => c - '0' + 26,
        >= 'a' and <= 'z' => c - 'a',
        >= 'A' and <= 'Z' => c - 'A',
        _ => -1,
    };
}

using System.Buffers.Binary;

namespace ConsentRegistry.Imaging;

/// <summary>
/// What a JPEG's markers say about the cost of decoding it. A progressive file, or one whose first scan holds fewer
/// than all its components, is decoded from a buffer of every DCT coefficient of the image (libjpeg-turbo's
/// coefficient buffer: 2 bytes a coefficient, 64 a block, for every block of every component), filled by reading
/// every scan before the first row comes out, so it costs memory in proportion to its pixels and time in
/// proportion to its scans, whichever rows are wanted.
/// </summary>
internal readonly record struct JpegScans(bool Buffered, int Count, long CoefficientBytes)
{
    /// <summary>
    /// The most scans a JPEG may have. libjpeg's progressive scripts write 6 to 18; each scan is a pass over the
    /// blocks of its components, so a few hundred bytes of scans that code nothing can cost seconds of CPU.
    /// </summary>
    public const int MaxScans = 64;

    /// <summary>Reads the frame header (SOFn) and counts the scans (SOS) up to the end of the image (EOI).</summary>
    public static JpegScans Read(ReadOnlySpan<byte> file)
    {
        bool progressive = false, buffered = false;
        int components = 0, scans = 0;
        long coefficientBytes = 0;
        int at = 2; // after SOI
        while (at + 4 <= file.Length)
        {
            if (file[at] != 0xFF)
            {
                // Bytes between segments, which libjpeg skips with a warning and decodes on: so does this
                // reading, or one junk byte would hide the frame header and the scans from it.
                int next = file[at..].IndexOf((byte)0xFF);
                if (next < 0)
                {
                    break;
                }

                at += next;
                continue;
            }

            byte marker = file[at + 1];
            if (marker == 0xFF) // fill byte before a marker
            {
                at++;
                continue;
            }

            if (marker == 0xD9) // EOI
            {
                break;
            }

            if (marker is 0x01 or (>= 0xD0 and <= 0xD8)) // TEM, RSTn, SOI: no length
            {
                at += 2;
                continue;
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(file[(at + 2)..]);
            var segment = file.Slice(at + 4, Math.Clamp(length - 2, 0, file.Length - at - 4));
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC && segment.Length >= 6) // SOFn, not DHT, JPG, DAC
            {
                progressive = marker is 0xC2 or 0xC6 or 0xCA or 0xCE;
                components = segment[5];
                coefficientBytes = CoefficientBufferBytes(segment);
            }
            else if (marker == 0xDA) // SOS, then the scan's entropy-coded data
            {
                scans++;
                if (scans == 1)
                {
                    buffered = progressive || (segment.Length > 0 && segment[0] < components);
                }

                at = NextMarker(file, at + 2 + length);
                continue;
            }

            at += 2 + length;
        }

        return new JpegScans(buffered, scans, buffered ? coefficientBytes : 0);
    }

    /// <summary>libjpeg-turbo's whole-image coefficient arrays, from a frame header: each component's blocks, rounded up to whole MCUs.</summary>
    private static long CoefficientBufferBytes(ReadOnlySpan<byte> frame)
    {
        int height = BinaryPrimitives.ReadUInt16BigEndian(frame[1..]), width = BinaryPrimitives.ReadUInt16BigEndian(frame[3..]);
        int count = Math.Min(frame[5], (frame.Length - 6) / 3);
        int maxH = 1, maxV = 1;
        for (int c = 0; c < count; c++)
        {
            maxH = Math.Max(maxH, frame[7 + 3 * c] >> 4);
            maxV = Math.Max(maxV, frame[7 + 3 * c] & 15);
        }

        long bytes = 0;
        for (int c = 0; c < count; c++)
        {
            int h = Math.Max(1, frame[7 + 3 * c] >> 4), v = Math.Max(1, frame[7 + 3 * c] & 15);
            long blocksWide = RoundUp(DivideRoundingUp((long)width * h, 8L * maxH), h);
            long blocksHigh = RoundUp(DivideRoundingUp((long)height * v, 8L * maxV), v);
            bytes += blocksWide * blocksHigh * 64 * sizeof(short);
        }

        return bytes;
    }

    /// <summary>Where the marker after entropy-coded data starts: a 0xFF not followed by a stuffed 0 or a restart marker.</summary>
    private static int NextMarker(ReadOnlySpan<byte> file, int at)
    {
        while (at < file.Length)
        {
            int ff = file[at..].IndexOf((byte)0xFF);
            if (ff < 0 || at + ff + 1 >= file.Length)
            {
                return file.Length;
            }

            at += ff;
            byte next = file[at + 1];
            if (next is not (0x00 or 0xFF or (>= 0xD0 and <= 0xD7)))
            {
                return at;
            }

            at += next == 0xFF ? 1 : 2;
        }

        return file.Length;
    }

    private static long DivideRoundingUp(long value, long divisor) => (value + divisor - 1) / divisor;

    private static long RoundUp(long value, long multiple) => DivideRoundingUp(value, multiple) * multiple;
}

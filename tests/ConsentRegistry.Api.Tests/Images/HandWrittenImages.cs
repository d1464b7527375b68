using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace ConsentRegistry.Api.Tests.Images;

/// <summary>
/// Image files written byte by byte, as simply as their formats allow: GIF and BMP (which Skia decodes but cannot
/// encode), bare headers claiming huge sizes, and an EXIF orientation tag added to a JPEG.
/// </summary>
internal static class HandWrittenImages
{
    /// <summary>A 24-bit bottom-up BMP of the picture of <see cref="TestImages.Indices"/>.</summary>
    public static byte[] Bmp(int width, int height, int seed = 0)
    {
        var indices = TestImages.Indices(width, height, seed);
        int rowBytes = (width * 3 + 3) & ~3;
        var bmp = BmpHeader(width, height, rowBytes * height);
        int offset = 54;
        Array.Resize(ref bmp, offset + rowBytes * height);
        for (int y = height - 1; y >= 0; y--, offset += rowBytes)
        {
            for (int x = 0; x < width; x++)
            {
                int i = indices[y * width + x];
                bmp[offset + 3 * x] = TestImages.Palette[3 * i + 2];
                bmp[offset + 3 * x + 1] = TestImages.Palette[3 * i + 1];
                bmp[offset + 3 * x + 2] = TestImages.Palette[3 * i];
            }
        }

        return bmp;
    }

    /// <summary>The 54-byte header of a 24-bit BMP (file header and BITMAPINFOHEADER), without the pixels.</summary>
    public static byte[] BmpHeader(int width, int height, int imageBytes)
    {
        var header = new byte[54];
        "BM"u8.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(2), 54 + imageBytes);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(header.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(header.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(34), imageBytes);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(38), 2835);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(42), 2835);
        return header;
    }

    /// <summary>A GIF with the 256-colour <see cref="TestImages.Palette"/> and one frame per picture (seeds 0, 1, …).</summary>
    public static byte[] Gif(int width, int height, int frames = 1)
    {
        using var gif = new MemoryStream();
        gif.Write("GIF89a"u8);
        WriteUInt16(gif, width);
        WriteUInt16(gif, height);
        gif.Write([0xF7, 0, 0]); // global colour table of 256 entries
        gif.Write(TestImages.Palette);
        for (int frame = 0; frame < frames; frame++)
        {
            gif.WriteByte(0x2C);
            WriteUInt16(gif, 0);
            WriteUInt16(gif, 0);
            WriteUInt16(gif, width);
            WriteUInt16(gif, height);
            gif.WriteByte(0);
            gif.WriteByte(8); // LZW minimum code size
            var lzw = LiteralLzw(TestImages.Indices(width, height, seed: frame));
            foreach (var block in lzw.Chunk(255))
            {
                gif.WriteByte((byte)block.Length);
                gif.Write(block);
            }

            gif.WriteByte(0);
        }

        gif.WriteByte(0x3B);
        return gif.ToArray();
    }

    /// <summary>A PNG of <paramref name="width"/>×<paramref name="height"/> RGB pixels whose only image data is one empty row.</summary>
    public static byte[] PngHeaderOnly(int width, int height)
    {
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // RGB
        WriteChunk(png, "IHDR", ihdr);
        WriteChunk(png, "IDAT", [0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>
    /// A JPEG with an EXIF APP1 segment holding only the orientation tag, inserted after SOI of
    /// <paramref name="jpeg"/>.
    /// </summary>
    public static byte[] WithExifOrientation(byte[] jpeg, int orientation)
    {
        var tiff = new byte[26];
        "II*\0"u8.CopyTo(tiff);
        BinaryPrimitives.WriteInt32LittleEndian(tiff.AsSpan(4), 8); // first IFD
        BinaryPrimitives.WriteInt16LittleEndian(tiff.AsSpan(8), 1); // one entry
        BinaryPrimitives.WriteInt16LittleEndian(tiff.AsSpan(10), 0x0112); // Orientation
        BinaryPrimitives.WriteInt16LittleEndian(tiff.AsSpan(12), 3); // SHORT
        BinaryPrimitives.WriteInt32LittleEndian(tiff.AsSpan(14), 1);
        BinaryPrimitives.WriteInt16LittleEndian(tiff.AsSpan(18), (short)orientation);
        // bytes 22..25: no next IFD
        byte[] exif = [.. "Exif\0\0"u8, .. tiff];
        var segment = new byte[4 + exif.Length];
        segment[0] = 0xFF;
        segment[1] = 0xE1;
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), (ushort)(exif.Length + 2));
        exif.CopyTo(segment, 4);
        return [.. jpeg.AsSpan(0, 2), .. segment, .. jpeg.AsSpan(2)];
    }

    // Literal codes only, with a clear code before the table would outgrow 9-bit codes: valid LZW, no compression.
    private static byte[] LiteralLzw(byte[] indices)
    {
        const int clear = 256, end = 257, bits = 9, literalsPerClear = 250;
        var output = new List<byte>();
        int buffer = 0, count = 0;
        void Write(int code)
        {
            buffer |= code << count;
            count += bits;
            while (count >= 8)
            {
                output.Add((byte)buffer);
                buffer >>= 8;
                count -= 8;
            }
        }

        for (int i = 0; i < indices.Length; i++)
        {
            if (i % literalsPerClear == 0)
            {
                Write(clear);
            }

            Write(indices[i]);
        }

        Write(end);
        if (count > 0)
        {
            output.Add((byte)buffer);
        }

        return [.. output];
    }

    private static void WriteChunk(Stream png, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        png.Write(length);
        byte[] typed = [.. Encoding.ASCII.GetBytes(type), .. data];
        png.Write(typed);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32.HashToUInt32(typed));
        png.Write(crc);
    }

    private static void WriteUInt16(Stream stream, int value)
    {
        stream.WriteByte((byte)value);
        stream.WriteByte((byte)(value >> 8));
    }
}

using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace ConsentRegistry.Api.Tests.Images;

/// <summary>
/// Image files written byte by byte, as simply as their formats allow: GIF and BMP (which Skia decodes but cannot
/// encode), progressive JPEG, bare headers claiming huge sizes, and an EXIF orientation tag added to a JPEG.
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
    /// The 43-byte GIF bomb: a 10000×10000 logical screen (the canvas the decoder allocates) around one 1×1 frame,
    /// with a graphic control extension.
    /// </summary>
    public static byte[] GifTinyFrameOnHugeCanvas() =>
    [
        .. "GIF89a"u8, 0x10, 0x27, 0x10, 0x27, 0x80, 0, 0, // 10000×10000 screen, global colour table of 2 entries
        0, 0, 0, 0xFF, 0xFF, 0xFF,
        0x21, 0xF9, 4, 0, 0, 0, 0, 0, // graphic control extension
        0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, // a 1×1 frame at 0,0
        2, 2, 0x44, 0x01, 0, // LZW, 3-bit codes: clear, 0, end
        0x3B,
    ];

    /// <summary>An 8-bit RLE BMP declaring <paramref name="width"/>×<paramref name="height"/> whose only RLE code is end-of-bitmap.</summary>
    public static byte[] RleBmp(int width, int height)
    {
        var bmp = BmpHeader(width, height, 1024 + 2);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(10), 54 + 1024); // pixels after the palette
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(28), 8);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(30), 1); // BI_RLE8
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(34), 2);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(46), 256);
        return [.. bmp, .. new byte[1024], 0, 1];
    }

    /// <summary>
    /// An 80-byte 24-bit RLE BMP with an OS/2 2.x header (64 bytes, compression 4: RLE24) declaring
    /// <paramref name="width"/>×<paramref name="height"/>, whose only RLE code is end-of-bitmap.
    /// </summary>
    public static byte[] Os2Rle24Bmp(int width, int height)
    {
        var bmp = BmpHeader(width, height, 2);
        Array.Resize(ref bmp, 14 + 64);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(2), 14 + 64 + 2);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(10), 14 + 64);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(14), 64);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(30), 4); // RLE24
        return [.. bmp, 0, 1];
    }

    /// <summary>
    /// A 1-bit greyscale PNG, interlaced (Adam7) or not, black or with the white pixels <paramref name="white"/> names,
    /// its image data compressed as tightly as zlib can: a black one is as small as a valid PNG of that size gets.
    /// </summary>
    public static byte[] GreyPng(int width, int height, bool interlaced, Func<int, int, bool>? white = null)
    {
        (int X, int Y, int Dx, int Dy)[] passes = interlaced
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)];
        using var compressed = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
        {
            foreach (var (x0, y0, dx, dy) in passes)
            {
                int columns = width > x0 ? (width - x0 + dx - 1) / dx : 0;
                if (columns == 0)
                {
                    continue;
                }

                var row = new byte[1 + (columns + 7) / 8]; // filter byte 0, then the packed pixels
                for (int y = y0; y < height; y += dy)
                {
                    if (white is not null)
                    {
                        Array.Clear(row);
                        for (int c = 0; c < columns; c++)
                        {
                            if (white(x0 + c * dx, y))
                            {
                                row[1 + c / 8] |= (byte)(0x80 >> (c % 8));
                            }
                        }
                    }

                    zlib.Write(row);
                }
            }
        }

        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 1; // bit depth
        ihdr[9] = 0; // greyscale
        ihdr[12] = (byte)(interlaced ? 1 : 0);
        WriteChunk(png, "IHDR", ihdr);
        WriteChunk(png, "IDAT", compressed.ToArray());
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>
    /// A flat grey progressive JPEG (SOF2) whose components have the given sampling factors: its first scan holds
    /// every block's DC coefficient, each a 1-bit Huffman code for "no change", as small as a progressive JPEG gets;
    /// then <paramref name="acScans"/> scans of one AC coefficient of one component, each block a 1-bit end-of-block.
    /// </summary>
    public static byte[] ProgressiveJpeg(int width, int height, (int H, int V)[] sampling, int acScans = 0)
    {
        using var jpeg = new MemoryStream();
        jpeg.Write([0xFF, 0xD8]);
        WriteSegment(jpeg, 0xDB, [0, .. Enumerable.Repeat((byte)1, 64)]); // quantisation table 0
        byte[] frame = [8, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, (byte)sampling.Length];
        for (int c = 0; c < sampling.Length; c++)
        {
            frame = [.. frame, (byte)(c + 1), (byte)(sampling[c].H << 4 | sampling[c].V), 0];
        }

        WriteSegment(jpeg, 0xC2, frame);
        WriteSegment(jpeg, 0xC4, [0x00, 1, .. new byte[15], 0x00]); // DC table 0: one 1-bit code, difference 0
        WriteSegment(jpeg, 0xC4, [0x10, 1, .. new byte[15], 0x00]); // AC table 0: one 1-bit code, end of block
        byte[] scan = [(byte)sampling.Length];
        for (int c = 0; c < sampling.Length; c++)
        {
            scan = [.. scan, (byte)(c + 1), 0];
        }

        WriteSegment(jpeg, 0xDA, [.. scan, 0, 0, 0]);
        int maxH = sampling.Max(s => s.H), maxV = sampling.Max(s => s.V);
        long dcBlocks = sampling.Length == 1
            ? (long)((width + 7) / 8) * ((height + 7) / 8)
            : (long)((width + 8 * maxH - 1) / (8 * maxH)) * ((height + 8 * maxV - 1) / (8 * maxV)) * sampling.Sum(s => s.H * s.V);
        WriteZeroBits(jpeg, dcBlocks);
        for (int i = 0; i < acScans; i++)
        {
            int c = i % sampling.Length, coefficient = 1 + i / sampling.Length % 63;
            WriteSegment(jpeg, 0xDA, [1, (byte)(c + 1), 0, (byte)coefficient, (byte)coefficient, 0]);
            long columns = ((long)width * sampling[c].H + maxH - 1) / maxH, rows = ((long)height * sampling[c].V + maxV - 1) / maxV;
            WriteZeroBits(jpeg, (columns + 7) / 8 * ((rows + 7) / 8));
        }

        jpeg.Write([0xFF, 0xD9]);
        return jpeg.ToArray();
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

    private static void WriteSegment(Stream jpeg, byte marker, byte[] data)
    {
        jpeg.Write([0xFF, marker, (byte)((data.Length + 2) >> 8), (byte)(data.Length + 2)]);
        jpeg.Write(data);
    }

    // Entropy-coded data of that many 0 bits, padded with 1 bits to a whole byte.
    private static void WriteZeroBits(Stream jpeg, long bits)
    {
        jpeg.Write(new byte[bits / 8]);
        if (bits % 8 != 0)
        {
            jpeg.WriteByte((byte)(0xFF >> (int)(bits % 8)));
        }
    }

    private static void WriteUInt16(Stream stream, int value)
    {
        stream.WriteByte((byte)value);
        stream.WriteByte((byte)(value >> 8));
    }
}

using System.Buffers.Binary;

namespace ConsentRegistry.Api.Tests.Cli;

/// <summary>
/// Parquet files whose footer lies about their row count, as a hostile or damaged file may: the
/// footer is a Thrift <c>FileMetaData</c> in the compact protocol (parquet.thrift), and only the
/// varints of its <c>num_rows</c> (field 3) and of each row group's (field 3 of each
/// <c>RowGroup</c> in field 4) are rewritten. The footer comes last, and nothing points into it, so
/// its length may change.
/// </summary>
internal static class LyingParquet
{
    /// <summary>A copy of the Parquet file <paramref name="file"/> whose footer gives <paramref name="rows"/> rows to the file and to each row group.</summary>
    public static byte[] ClaimingRows(byte[] file, long rows)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(file.Length - 8));
        var start = file.Length - 8 - length;
        var footer = file[start..(file.Length - 8)];
        var counts = new Walker(footer).RowCounts();
        Assert.NotEmpty(counts);

        var output = new List<byte>(file[..start]);
        var at = 0;
        foreach (var count in counts)
        {
            output.AddRange(footer[at..count.Start]);
            output.AddRange(Varint((ulong)((rows << 1) ^ (rows >> 63))));
            at = count.End.Value;
        }

        output.AddRange(footer[at..]);
        var newLength = output.Count - start;
        var lengthBytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(lengthBytes, newLength);
        output.AddRange(lengthBytes);
        output.AddRange("PAR1"u8.ToArray());
        return [.. output];
    }

    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }

    /// <summary>Walks a compact-protocol struct, noting where the row counts' varints lie.</summary>
    private sealed class Walker(byte[] bytes)
    {
        private readonly List<Range> _counts = [];
        private int _at;

        public List<Range> RowCounts()
        {
            Struct(level: 0);
            return _counts;
        }

        /// <summary>One struct: <paramref name="level"/> 0 is the FileMetaData, 1 a RowGroup, 2 anything deeper.</summary>
        private void Struct(int level)
        {
            short id = 0;
            for (var header = bytes[_at++]; header != 0; header = bytes[_at++])
            {
                id = header >> 4 != 0 ? (short)(id + (header >> 4)) : (short)UnZigZag(ReadVarint());
                var type = header & 0x0F;
                if (level < 2 && id == 3 && type == 6)
                {
                    var from = _at;
                    ReadVarint();
                    _counts.Add(from.._at);
                }
                else if (level == 0 && id == 4 && type == 9)
                {
                    var count = ListHeader(out _);
                    for (var i = 0; i < count; i++)
                    {
                        Struct(level: 1);
                    }
                }
                else
                {
                    Skip(type, inCollection: false);
                }
            }
        }

        private void Skip(int type, bool inCollection)
        {
            switch (type)
            {
                case 1 or 2: // a boolean: in a field's header, else a byte of its own
                    _at += inCollection ? 1 : 0;
                    break;
                case 3:
                    _at++;
                    break;
                case 4 or 5 or 6:
                    ReadVarint();
                    break;
                case 7:
                    _at += 8;
                    break;
                case 8:
                    var length = (int)ReadVarint();
                    _at += length;
                    break;
                case 9 or 10:
                    var count = ListHeader(out var element);
                    for (var i = 0; i < count; i++)
                    {
                        Skip(element, inCollection: true);
                    }

                    break;
                case 11:
                    var entries = (int)ReadVarint();
                    var types = entries > 0 ? bytes[_at++] : 0;
                    for (var i = 0; i < entries; i++)
                    {
                        Skip(types >> 4, inCollection: true);
                        Skip(types & 0x0F, inCollection: true);
                    }

                    break;
                case 12:
                    Struct(level: 2);
                    break;
                default:
                    throw new InvalidDataException($"Thrift type {type} in a Parquet footer");
            }
        }

        private int ListHeader(out int elementType)
        {
            var header = bytes[_at++];
            elementType = header & 0x0F;
            return header >> 4 == 15 ? (int)ReadVarint() : header >> 4;
        }

        private ulong ReadVarint()
        {
            ulong value = 0;
            for (var shift = 0; ; shift += 7)
            {
                var b = bytes[_at++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }
        }

        private static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);
    }
}

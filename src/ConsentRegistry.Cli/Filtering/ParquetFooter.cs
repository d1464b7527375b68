using System.Buffers;

namespace ConsentRegistry.Cli.Filtering;

/// <summary>
/// Joins two Parquet footers of one file: the footer of the row groups written so far and that of
/// the row groups just appended after them (see <see cref="ParquetOutput"/>). A footer is a Thrift
/// <c>FileMetaData</c> in the compact protocol (parquet.thrift); the joined one is the first with
/// the second's row groups added to its list (their ordinals renumbered) and its row count raised
/// by theirs. Every other field is copied byte for byte, so nothing this code does not know of is
/// lost. Offsets inside the row groups are already where the bytes lie: the appending writer was
/// told the file's real positions.
/// </summary>
public static class ParquetFooter
{
    // FileMetaData: 3 num_rows (i64), 4 row_groups (list<RowGroup>), 8 encryption_algorithm,
    // 9 footer_signing_key_metadata; RowGroup: 7 ordinal (i16).
    private const short NumRowsField = 3;
    private const short RowGroupsField = 4;
    private const short OrdinalField = 7;
    private const short EncryptionAlgorithmField = 8;
    private const short FooterSigningKeyField = 9;

    // Compact protocol types.
    private const byte BoolTrue = 1;
    private const byte BoolFalse = 2;
    private const byte Byte = 3;
    private const byte I16 = 4;
    private const byte I32 = 5;
    private const byte I64 = 6;
    private const byte Double = 7;
    private const byte Binary = 8;
    private const byte List = 9;
    private const byte Set = 10;
    private const byte Map = 11;
    private const byte Struct = 12;

    private const int MaxDepth = 64;

    /// <summary>The footer of <paramref name="footer"/>'s row groups followed by <paramref name="appended"/>'s.</summary>
    public static byte[] Join(ReadOnlySpan<byte> footer, ReadOnlySpan<byte> appended)
    {
        try
        {
            var first = Fields(footer);
            var second = Fields(appended);
            Check(first);
            Check(second);
            var groups = RowGroups(footer, first, 0).Concat(RowGroups(appended, second, 1)).ToList();
            var rows = checked(NumRows(footer, first) + NumRows(appended, second));

            var output = new ArrayBufferWriter<byte>(footer.Length + appended.Length);
            short lastId = 0;
            foreach (var field in first)
            {
                switch (field.Id)
                {
                    case NumRowsField:
                        WriteFieldHeader(output, I64, field.Id, ref lastId);
                        WriteVarint(output, ZigZag(rows));
                        break;
                    case RowGroupsField:
                        WriteFieldHeader(output, List, field.Id, ref lastId);
                        WriteListHeader(output, groups.Count, Struct);
                        for (var ordinal = 0; ordinal < groups.Count; ordinal++)
                        {
                            var (source, range) = groups[ordinal];
                            WriteRowGroup(output, (source == 0 ? footer : appended)[range], ordinal);
                        }

                        break;
                    default:
                        WriteFieldHeader(output, field.Type, field.Id, ref lastId);
                        output.Write(footer[field.Value]);
                        break;
                }
            }

            WriteByte(output, 0); // stop
            return output.WrittenSpan.ToArray();
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentOutOfRangeException or OverflowException)
        {
            throw new InvalidDataException("A Parquet footer could not be read.", e);
        }

        // What the join relies on: a row count and a list of row groups in each, and no encryption
        // (an encrypted file ties each part to its row group's ordinal and signs its footer).
        static void Check(List<FieldValue> fields)
        {
            if (fields.Find(f => f.Id == NumRowsField).Type != I64 || fields.Find(f => f.Id == RowGroupsField).Type != List)
            {
                throw new InvalidDataException("A Parquet footer lacks its row count or its list of row groups.");
            }

            if (fields.Exists(f => f.Id is EncryptionAlgorithmField or FooterSigningKeyField))
            {
                throw new NotSupportedException("An encrypted Parquet file cannot be appended to.");
            }
        }

        static IEnumerable<(int Source, Range Range)> RowGroups(ReadOnlySpan<byte> bytes, List<FieldValue> fields, int source)
        {
            var field = fields.Find(f => f.Id == RowGroupsField); // a list: checked above
            var reader = new Reader(bytes, field.Value.Start.Value);
            var (count, elementType) = reader.ListHeader();
            if (count > 0 && elementType != Struct)
            {
                throw new InvalidDataException("A Parquet footer's row groups are not structs.");
            }

            var ranges = new List<(int, Range)>(count);
            for (var i = 0; i < count; i++)
            {
                var start = reader.Position;
                reader.Skip(Struct, inCollection: true, depth: 1);
                ranges.Add((source, start..reader.Position));
            }

            return ranges;
        }
    }

    /// <summary>The top-level fields of the struct in <paramref name="bytes"/>, each with the range of its value.</summary>
    private static List<FieldValue> Fields(ReadOnlySpan<byte> bytes)
    {
        var reader = new Reader(bytes, 0);
        var fields = new List<FieldValue>();
        short lastId = 0;
        while (reader.FieldHeader(ref lastId) is { } header)
        {
            var start = reader.Position;
            reader.Skip(header.Type, inCollection: false, depth: 1);
            fields.Add(new FieldValue(header.Id, header.Type, start..reader.Position));
        }

        if (reader.Position != bytes.Length)
        {
            throw new InvalidDataException("A Parquet footer goes on after its end.");
        }

        return fields;
    }

    private static long NumRows(ReadOnlySpan<byte> bytes, List<FieldValue> fields)
    {
        var field = fields.Find(f => f.Id == NumRowsField);
        return field.Type == I64 ? UnZigZag(new Reader(bytes, field.Value.Start.Value).Varint()) : 0;
    }

    /// <summary>
    /// A RowGroup struct as it was, with its ordinal (when it has one: Arrow writes it for
    /// encrypted files only) set to <paramref name="ordinal"/>, which must then fit its i16.
    /// </summary>
    private static void WriteRowGroup(ArrayBufferWriter<byte> output, ReadOnlySpan<byte> group, int ordinal)
    {
        short lastId = 0;
        foreach (var field in Fields(group))
        {
            WriteFieldHeader(output, field.Type, field.Id, ref lastId);
            if (field.Id == OrdinalField && field.Type == I16)
            {
                WriteVarint(output, ZigZag(ordinal <= short.MaxValue ? ordinal : throw new InvalidDataException($"Row group {ordinal} has an ordinal, and ordinals end at {short.MaxValue}.")));
            }
            else
            {
                output.Write(group[field.Value]);
            }
        }

        WriteByte(output, 0);
    }

    private static void WriteFieldHeader(ArrayBufferWriter<byte> output, byte type, short id, ref short lastId)
    {
        var delta = id - lastId;
        if (delta is > 0 and <= 15)
        {
            WriteByte(output, (byte)((delta << 4) | type));
        }
        else
        {
            WriteByte(output, type);
            WriteVarint(output, ZigZag(id));
        }

        lastId = id;
    }

    private static void WriteListHeader(ArrayBufferWriter<byte> output, int count, byte elementType)
    {
        if (count < 15)
        {
            WriteByte(output, (byte)((count << 4) | elementType));
        }
        else
        {
            WriteByte(output, (byte)(0xF0 | elementType));
            WriteVarint(output, (ulong)count);
        }
    }

    private static void WriteByte(ArrayBufferWriter<byte> output, byte value)
    {
        output.GetSpan(1)[0] = value;
        output.Advance(1);
    }

    private static void WriteVarint(ArrayBufferWriter<byte> output, ulong value)
    {
        Span<byte> bytes = stackalloc byte[10];
        var length = 0;
        while (value >= 0x80)
        {
            bytes[length++] = (byte)(value | 0x80);
            value >>= 7;
        }

        bytes[length++] = (byte)value;
        output.Write(bytes[..length]);
    }

    private static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    private static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);

    private readonly record struct FieldValue(short Id, byte Type, Range Value);

    /// <summary>Reads compact-protocol values; <see cref="Skip"/> walks over any value without keeping it.</summary>
    private ref struct Reader(ReadOnlySpan<byte> bytes, int position)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;

        public int Position { get; private set; } = position;

        public byte ReadByte() => _bytes[Position++];

        public ulong Varint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = ReadByte();
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw new InvalidDataException("A Parquet footer holds a varint longer than 64 bits.");
        }

        /// <summary>The next field's id and type, or null at the struct's end.</summary>
        public (short Id, byte Type)? FieldHeader(ref short lastId)
        {
            var header = ReadByte();
            if (header == 0)
            {
                return null;
            }

            var delta = header >> 4;
            lastId = delta != 0 ? checked((short)(lastId + delta)) : checked((short)UnZigZag(Varint()));
            return (lastId, (byte)(header & 0x0F));
        }

        public (int Count, byte ElementType) ListHeader()
        {
            var header = ReadByte();
            var count = header >> 4 == 15 ? checked((int)Varint()) : header >> 4;
            return (count, (byte)(header & 0x0F));
        }

        public void Skip(byte type, bool inCollection, int depth)
        {
            if (depth > MaxDepth)
            {
                throw new InvalidDataException("A Parquet footer nests deeper than any Parquet file does.");
            }

            switch (type)
            {
                case BoolTrue or BoolFalse:
                    Position += inCollection ? 1 : 0; // a field's boolean is in its header
                    break;
                case Byte:
                    Position += 1;
                    break;
                case I16 or I32 or I64:
                    Varint();
                    break;
                case Double:
                    Position += 8;
                    break;
                case Binary:
                {
                    var length = checked((int)Varint()); // read first: Position moves past the varint
                    if ((uint)length > (uint)(_bytes.Length - Position))
                    {
                        throw new InvalidDataException("A Parquet footer ends inside a value.");
                    }

                    Position += length;
                    break;
                }

                case List or Set:
                {
                    var (count, elementType) = ListHeader();
                    for (var i = 0; i < count; i++)
                    {
                        Skip(elementType, inCollection: true, depth + 1);
                    }

                    break;
                }

                case Map:
                {
                    var count = checked((int)Varint());
                    if (count > 0)
                    {
                        var types = ReadByte();
                        for (var i = 0; i < count; i++)
                        {
                            Skip((byte)(types >> 4), inCollection: true, depth + 1);
                            Skip((byte)(types & 0x0F), inCollection: true, depth + 1);
                        }
                    }

                    break;
                }

                case Struct:
                {
                    short lastId = 0;
                    while (FieldHeader(ref lastId) is { } header)
                    {
                        Skip(header.Type, inCollection: false, depth + 1);
                    }

                    break;
                }

                default:
                    throw new InvalidDataException($"A Parquet footer holds an unknown Thrift type {type}.");
            }

            if (Position > _bytes.Length)
            {
                throw new InvalidDataException("A Parquet footer ends inside a value.");
            }
        }
    }
}

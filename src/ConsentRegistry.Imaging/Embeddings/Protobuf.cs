using System.Text;

namespace ConsentRegistry.Imaging.Embeddings;

/// <summary>
/// The protocol buffers wire format at the level of fields: a message is a list of (number, wire
/// type, value) read and written back unchanged, so a rewrite touches only the fields it means to.
/// </summary>
internal static class Protobuf
{
    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLength = 2;
    private const int WireFixed32 = 5;

    /// <summary>One field: a varint in <see cref="Value"/>, anything else in <see cref="Bytes"/>.</summary>
    public readonly record struct Field(int Number, int Wire, ulong Value, byte[] Bytes);

    public static List<Field> Parse(ReadOnlySpan<byte> message)
    {
        var fields = new List<Field>();
        var at = 0;
        while (at < message.Length)
        {
            var key = ReadVarint(message, ref at);
            var number = (int)(key >> 3);
            var wire = (int)(key & 7);
            var length = wire switch
            {
                WireVarint => 0,
                WireFixed64 => 8,
                WireFixed32 => 4,
                WireLength => checked((int)ReadVarint(message, ref at)),
                _ => throw new InvalidDataException($"Unsupported protobuf wire type {wire} in field {number}."),
            };

            if (wire == WireVarint)
            {
                fields.Add(new Field(number, wire, ReadVarint(message, ref at), []));
                continue;
            }

            if (length < 0 || at + length > message.Length)
            {
                throw new InvalidDataException($"Protobuf field {number} runs past the end of its message.");
            }

            fields.Add(new Field(number, wire, 0, message.Slice(at, length).ToArray()));
            at += length;
        }

        return fields;
    }

    public static byte[] Write(IEnumerable<Field> fields)
    {
        using var stream = new MemoryStream();
        foreach (var field in fields)
        {
            WriteVarint(stream, ((ulong)field.Number << 3) | (uint)field.Wire);
            if (field.Wire == WireVarint)
            {
                WriteVarint(stream, field.Value);
                continue;
            }

            if (field.Wire == WireLength)
            {
                WriteVarint(stream, (ulong)field.Bytes.Length);
            }

            stream.Write(field.Bytes);
        }

        return stream.ToArray();
    }

    /// <summary>Replaces the first field <paramref name="number"/> (a message) with <paramref name="rewrite"/> of it.</summary>
    public static byte[] Rewrite(byte[] message, int number, Func<byte[], byte[]> rewrite)
    {
        var fields = Parse(message);
        var at = fields.FindIndex(f => f.Number == number && f.Wire == WireLength);
        if (at < 0)
        {
            return message;
        }

        fields[at] = fields[at] with { Bytes = rewrite(fields[at].Bytes) };
        return Write(fields);
    }

    public static Field Message(int number, byte[] bytes) => new(number, WireLength, 0, bytes);

    public static Field Text(int number, string text) => new(number, WireLength, 0, Encoding.UTF8.GetBytes(text));

    public static Field Varint(int number, ulong value) => new(number, WireVarint, value, []);

    private static ulong ReadVarint(ReadOnlySpan<byte> bytes, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (at >= bytes.Length)
            {
                throw new InvalidDataException("A protobuf varint runs past the end of its message.");
            }

            var b = bytes[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new InvalidDataException("A protobuf varint is longer than 10 bytes.");
    }

    private static void WriteVarint(Stream stream, ulong value)
    {
        while (value >= 0x80)
        {
            stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        stream.WriteByte((byte)value);
    }
}

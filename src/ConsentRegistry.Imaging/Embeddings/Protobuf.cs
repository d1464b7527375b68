using System.Text;

namespace ConsentRegistry.Imaging.Embeddings;

/// <summary>
/// The protocol buffers wire format at the level of fields: a message is a list of (number, wire
/// type, value) read and written back unchanged, so a rewrite touches only the fields it means to.
/// Parsing copies nothing (a field's bytes are a slice of its message), and writing computes the
/// length first and fills one array: a 60 MB model costs one more 60 MB array, not several.
/// </summary>
internal static class Protobuf
{
    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLength = 2;
    private const int WireFixed32 = 5;

    /// <summary>
    /// One field: a varint in <see cref="Value"/>; anything else in <see cref="Bytes"/>, or, for a
    /// message rewritten in place, in <see cref="Children"/> (written without an array of its own).
    /// </summary>
    public readonly record struct Field(int Number, int Wire, ulong Value, ReadOnlyMemory<byte> Bytes, List<Field>? Children = null)
    {
        /// <summary>The length of the value as written (for a varint, of the varint).</summary>
        public long ContentLength => Wire == WireVarint ? VarintLength(Value) : Children is { } children ? LengthOf(children) : Bytes.Length;
    }

    public static List<Field> Parse(ReadOnlyMemory<byte> message)
    {
        var fields = new List<Field>();
        var span = message.Span;
        var at = 0;
        while (at < span.Length)
        {
            var key = ReadVarint(span, ref at);
            var number = (int)(key >> 3);
            var wire = (int)(key & 7);
            var length = wire switch
            {
                WireVarint => 0,
                WireFixed64 => 8,
                WireFixed32 => 4,
                WireLength => checked((int)ReadVarint(span, ref at)),
                _ => throw new InvalidDataException($"Unsupported protobuf wire type {wire} in field {number}."),
            };

            if (wire == WireVarint)
            {
                fields.Add(new Field(number, wire, ReadVarint(span, ref at), ReadOnlyMemory<byte>.Empty));
                continue;
            }

            if (length < 0 || at + length > span.Length)
            {
                throw new InvalidDataException($"Protobuf field {number} runs past the end of its message.");
            }

            fields.Add(new Field(number, wire, 0, message.Slice(at, length)));
            at += length;
        }

        return fields;
    }

    public static byte[] Write(List<Field> fields)
    {
        var bytes = new byte[LengthOf(fields)];
        var at = 0;
        Write(fields, bytes, ref at);
        return bytes;
    }

    /// <summary>Replaces the first field <paramref name="number"/> (a message) with <paramref name="rewrite"/> of it.</summary>
    public static byte[] Rewrite(ReadOnlyMemory<byte> message, int number, Func<ReadOnlyMemory<byte>, byte[]> rewrite)
    {
        var fields = Parse(message);
        var at = fields.FindIndex(f => f.Number == number && f.Wire == WireLength);
        if (at < 0)
        {
            return message.ToArray();
        }

        fields[at] = fields[at] with { Bytes = rewrite(fields[at].Bytes) };
        return Write(fields);
    }

    public static Field Message(int number, ReadOnlyMemory<byte> bytes) => new(number, WireLength, 0, bytes);

    /// <summary>A message field written from its fields, without an array of its own.</summary>
    public static Field Message(int number, List<Field> children) => new(number, WireLength, 0, ReadOnlyMemory<byte>.Empty, children);

    public static Field Text(int number, string text) => new(number, WireLength, 0, Encoding.UTF8.GetBytes(text));

    public static Field Varint(int number, ulong value) => new(number, WireVarint, value, ReadOnlyMemory<byte>.Empty);

    private static long LengthOf(List<Field> fields)
    {
        long length = 0;
        foreach (var field in fields)
        {
            var content = field.ContentLength;
            length += VarintLength(((ulong)field.Number << 3) | (uint)field.Wire) + content
                + (field.Wire == WireLength ? VarintLength((ulong)content) : 0);
        }

        return length;
    }

    private static void Write(List<Field> fields, byte[] into, ref int at)
    {
        foreach (var field in fields)
        {
            WriteVarint(into, ref at, ((ulong)field.Number << 3) | (uint)field.Wire);
            if (field.Wire == WireVarint)
            {
                WriteVarint(into, ref at, field.Value);
                continue;
            }

            if (field.Wire == WireLength)
            {
                WriteVarint(into, ref at, (ulong)field.ContentLength);
            }

            if (field.Children is { } children)
            {
                Write(children, into, ref at);
            }
            else
            {
                field.Bytes.Span.CopyTo(into.AsSpan(at));
                at += field.Bytes.Length;
            }
        }
    }

    private static int VarintLength(ulong value)
    {
        var length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return length;
    }

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

    private static void WriteVarint(byte[] into, ref int at, ulong value)
    {
        while (value >= 0x80)
        {
            into[at++] = (byte)(value | 0x80);
            value >>= 7;
        }

        into[at++] = (byte)value;
    }
}

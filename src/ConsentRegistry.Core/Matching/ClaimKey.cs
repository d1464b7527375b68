using System.Buffers.Binary;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// A claim id (the SHA-256 of its JWS, 64 lower-case hex characters: <see cref="Claims.ClaimId"/>)
/// as the index holds it: 32 bytes, no string (<see cref="ClaimTable"/> finds claims by it).
/// </summary>
public readonly record struct ClaimKey(ulong A, ulong B, ulong C, ulong D)
{
    public const int HexLength = 64;

    /// <summary>The key of a well-formed claim id; throws for any other string.</summary>
    public static ClaimKey Parse(string id) =>
        TryParse(id, out var key) ? key : throw new ArgumentException("A claim id is 64 lower-case hex characters.", nameof(id));

    public static bool TryParse(ReadOnlySpan<char> id, out ClaimKey key)
    {
        Span<byte> bytes = stackalloc byte[32];
        if (!Claims.ClaimId.IsWellFormed(id) || Convert.FromHexString(id, bytes, out _, out _) != System.Buffers.OperationStatus.Done)
        {
            key = default;
            return false;
        }

        key = new ClaimKey(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]));
        return true;
    }

    /// <summary>Writes the id's 64 hex characters to <paramref name="destination"/>.</summary>
    public void Format(Span<char> destination)
    {
        Span<byte> bytes = stackalloc byte[32];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, A);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], B);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[16..], C);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[24..], D);
        Convert.TryToHexStringLower(bytes, destination, out _);
    }

    public override string ToString() => string.Create(HexLength, this, static (chars, key) => key.Format(chars));
}

using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// 128-bit fingerprints (XXH3-128) of canonical keys. With 128 bits, a collision among even a
/// billion keys has a probability near 10^-21, so the index keeps fingerprints, not strings.
/// </summary>
public static class Fingerprint
{
    public static UInt128 Of(ReadOnlySpan<char> key) => XxHash128.HashToUInt128(MemoryMarshal.AsBytes(key));
}

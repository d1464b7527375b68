using System.Runtime.InteropServices;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// A log seq in 40 bits, 5 bytes (a log of a trillion entries), as the claim table and the host
/// seq table keep it; a seq below 0 or above <see cref="Max"/> is refused, never wrapped.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal readonly struct Seq40
{
    public const long Max = (1L << 40) - 1;

    private readonly uint _low;
    private readonly byte _high;

    public Seq40(long seq)
    {
        if ((ulong)seq > Max)
        {
            throw new ArgumentOutOfRangeException(nameof(seq), seq, $"A seq below 0 or above {Max} is more than the index keeps.");
        }

        (_low, _high) = ((uint)seq, (byte)(seq >> 32));
    }

    public long Value => ((long)_high << 32) | _low;
}

using System.Numerics;
using System.Runtime.CompilerServices;
using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// A search of a <see cref="PdqIndex"/>: the query's four 64-bit parts, the radius, and the flip
/// budget per 16-bit slot that the pigeonhole principle allows (radius / 16, rounded down).
/// The tail keeps hashes as four ulongs an entry, part 0 first, as <see cref="PdqHash"/> numbers them.
/// </summary>
internal readonly struct PdqQuery
{
    public readonly ulong Q0, Q1, Q2, Q3;
    public readonly int Radius;
    public readonly int Flips;

    public PdqQuery(in PdqHash hash, int radius)
    {
        Q0 = hash.GetPart(0);
        Q1 = hash.GetPart(1);
        Q2 = hash.GetPart(2);
        Q3 = hash.GetPart(3);
        Radius = radius;
        Flips = radius >> 4;
    }

    /// <summary>Word <paramref name="slot"/> (0 to 15) of the query.</summary>
    public ushort Word(int slot) => (ushort)(Part(slot >> 2) >> ((slot & 3) << 4));

    private ulong Part(int part) => part switch
    {
        0 => Q0,
        1 => Q1,
        2 => Q2,
        _ => Q3,
    };

    /// <summary>Reports <paramref name="entry"/> when it lies within the radius (a linear scan sees each entry once).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void CheckScanned<TSink>(ref ulong hashes, int[] values, int entry, ref TSink sink)
        where TSink : IPdqHitSink, allows ref struct
    {
        ref var h = ref Unsafe.Add(ref hashes, (nint)entry * 4);
        var distance = BitOperations.PopCount(h ^ Q0) + BitOperations.PopCount(Unsafe.Add(ref h, 1) ^ Q1)
            + BitOperations.PopCount(Unsafe.Add(ref h, 2) ^ Q2) + BitOperations.PopCount(Unsafe.Add(ref h, 3) ^ Q3);
        if (distance <= Radius)
        {
            sink.Add(values[entry], distance, new PdqHash(h, Unsafe.Add(ref h, 1), Unsafe.Add(ref h, 2), Unsafe.Add(ref h, 3)));
        }
    }

    /// <summary>
    /// Whether a candidate found through <paramref name="slot"/> (its distances from the query
    /// being x0 to x3) is reported there: only if that slot is the first one whose word is within
    /// the flip budget. Every hash within the radius has such a slot, and is found through it, so
    /// each is reported exactly once with no visited set.
    /// </summary>
    public bool IsFirstQualifying(ulong x0, ulong x1, ulong x2, ulong x3, int slot)
    {
        for (var t = 0; t < slot; t++)
        {
            if (WordDistance(x0, x1, x2, x3, t) <= Flips)
            {
                return false;
            }
        }

        // A bucket of fewer than 16 bits also holds words further than the flip budget.
        return WordDistance(x0, x1, x2, x3, slot) <= Flips;
    }

    private static int WordDistance(ulong x0, ulong x1, ulong x2, ulong x3, int slot)
    {
        var part = (slot >> 2) switch
        {
            0 => x0,
            1 => x1,
            2 => x2,
            _ => x3,
        };
        return BitOperations.PopCount((part >> ((slot & 3) << 4)) & 0xFFFF);
    }
}

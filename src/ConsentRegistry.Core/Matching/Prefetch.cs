using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// Software prefetch for the PDQ index's random reads: asking for many cache lines before using
/// any lets their misses overlap (decision record 0004). A prefetch never faults, so a stale
/// address (an array the GC has since moved) costs nothing but the wasted fetch.
/// </summary>
internal static class Prefetch
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Line<T>(ref T value)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref value));
        }
    }
}

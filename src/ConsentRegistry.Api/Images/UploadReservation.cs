using ConsentRegistry.Imaging;

namespace ConsentRegistry.Api.Images;

/// <summary>
/// The share of the upload budget (<see cref="ImageHashingGate.TryReserveUpload"/>) that one upload
/// holds, grown as its bytes arrive rather than taken whole from its Content-Length: a client that
/// announces 50 MiB and then sends a trickle holds what it has sent (at most twice that, as the
/// share doubles), nothing before its first bytes. Taken whole, eleven such
/// clients held the 512 MiB budget for as long as Kestrel's minimum data rate let them (days for
/// 50 MiB), and every other upload was answered 503.
/// </summary>
internal sealed class UploadReservation(ImageHashingGate gate) : IDisposable
{
    /// <summary>The first step (a read's worth), and the least the reservation grows by; it doubles from there.</summary>
    public const long Step = 64 * 1024;

    /// <summary>The most one upload can hold: the file limit plus the form around it.</summary>
    public const long Most = ImageLimits.MaxBytes + ImageLimits.MultipartOverheadBytes;

    private readonly List<IDisposable> _leases = [];

    /// <summary>The bytes held now.</summary>
    public long Held { get; private set; }

    /// <summary>
    /// Holds at least <paramref name="bytes"/> (at most <see cref="Most"/>), doubling what is held
    /// so that a large upload takes a handful of leases, or just what is needed when the budget has
    /// no room to double; false when the budget is spent.
    /// </summary>
    public bool TryHold(long bytes)
    {
        bytes = Math.Min(bytes, Most);
        if (bytes <= Held)
        {
            return true;
        }

        var doubled = Math.Min(Math.Max(bytes - Held, Math.Max(Held, Step)), Most - Held);
        return TryAdd(doubled) || TryAdd(bytes - Held);
    }

    /// <summary>
    /// Holds <paramref name="bytes"/> more, beside the upload's own share, for a copy of the upload
    /// that lives while the upload does (past <see cref="Most"/> if need be); false when the budget
    /// has no room for it.
    /// </summary>
    public bool TryHoldCopy(long bytes) => TryAdd(bytes);

    private bool TryAdd(long more)
    {
        if (gate.TryReserveUpload(more) is not { } lease)
        {
            return false;
        }

        _leases.Add(lease);
        Held += more;
        return true;
    }

    public void Dispose()
    {
        foreach (var lease in _leases)
        {
            lease.Dispose();
        }

        _leases.Clear();
        Held = 0;
    }
}

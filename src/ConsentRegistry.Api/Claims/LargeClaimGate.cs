namespace ConsentRegistry.Api.Claims;

/// <summary>
/// Lets at most half the cores (at least one) check large claims at once, so that the large claims
/// the write budgets let in, a few at once even during a flood, cannot take every core while claims
/// of a few subjects (an artist's) wait. Checking a claim of 10,000 subjects (its signature, then
/// every subject parsed and canonicalized) takes tens of milliseconds of CPU. Small claims never
/// wait here. Its effect on the abuse benchmark's artist p99 is within that benchmark's spread
/// (docs/benchmarks.md, abuse resistance, fifth round).
/// </summary>
public sealed class LargeClaimGate : IDisposable
{
    /// <summary>A claim listing this many subjects or more is large.</summary>
    public const int LargeSubjects = 1_000;

    private readonly SemaphoreSlim _slots;

    public LargeClaimGate()
        : this(Math.Max(1, Environment.ProcessorCount / 2))
    {
    }

    public LargeClaimGate(int slots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        Slots = slots;
        _slots = new SemaphoreSlim(slots, slots);
    }

    /// <summary>How many large claims may be checked at once.</summary>
    public int Slots { get; }

    /// <summary>
    /// Waits for a slot when <paramref name="subjects"/> makes the claim large (an unknown count is
    /// treated as large: the body may still be); the slot is held until the returned value is disposed.
    /// </summary>
    public async ValueTask<Slot> EnterAsync(int? subjects, CancellationToken cancellationToken)
    {
        if (subjects is < LargeSubjects)
        {
            return default;
        }

        await _slots.WaitAsync(cancellationToken);
        return new Slot(_slots);
    }

    public void Dispose() => _slots.Dispose();

    /// <summary>A held slot (or none, for a small claim); disposing it lets the next large claim in.</summary>
    public readonly struct Slot(SemaphoreSlim? slots) : IDisposable
    {
        public void Dispose() => slots?.Release();
    }
}

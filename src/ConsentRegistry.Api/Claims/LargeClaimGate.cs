namespace ConsentRegistry.Api.Claims;

/// <summary>
/// Lets at most half the cores (at least one) check large claims at once, so that claims of a few
/// subjects (an artist's) always find a core free. Checking a claim of 10,000 subjects (its
/// signature, then every subject parsed and canonicalized) takes tens of milliseconds of CPU; the
/// write budgets let a few of them through at once even during a flood, and on a small machine they
/// would otherwise take every core while they last (docs/benchmarks.md, abuse resistance).
/// Small claims never wait here.
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

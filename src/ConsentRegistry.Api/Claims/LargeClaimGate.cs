using System.Collections.Concurrent;
using ConsentRegistry.Api.Hosting;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// Checks large claims a few at a time (half the cores, at least one), on threads of its own that
/// yield the processor to the request threads, so that the large claims the write budgets let in,
/// several at once at a flood's start, neither take every core nor hold the thread pool while claims
/// of a few subjects (an artist's) wait. Checking a claim of 10,000 subjects (its signature, then
/// every subject parsed and canonicalized) takes 15 to 40 ms of CPU; on the pool, a queue of them
/// kept an artist's claim waiting for a thread for tens of milliseconds (docs/benchmarks.md, abuse
/// resistance). Small claims are checked on the caller's thread and never wait here.
/// </summary>
public sealed class LargeClaimGate : IDisposable
{
    /// <summary>A claim listing this many subjects or more is large.</summary>
    public const int LargeSubjects = 1_000;

    private readonly SemaphoreSlim _slots;
    private readonly BlockingCollection<Action> _checks = new();
    private readonly Thread[] _checkers;

    public LargeClaimGate()
        : this(Math.Max(1, Environment.ProcessorCount / 2))
    {
    }

    public LargeClaimGate(int slots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        Slots = slots;
        _slots = new SemaphoreSlim(slots, slots);
        _checkers = Enumerable.Range(0, slots).Select(n => new Thread(RunChecks) { IsBackground = true, Name = $"Large claim checker {n + 1}" }).ToArray();
        foreach (var checker in _checkers)
        {
            checker.Start();
        }
    }

    /// <summary>How many large claims may be checked at once.</summary>
    public int Slots { get; }

    /// <summary>
    /// Runs <paramref name="check"/>: on the caller's thread when <paramref name="subjects"/> makes
    /// the claim small, otherwise on one of the gate's threads once a slot is free (an unknown count
    /// is treated as large: the body may still be).
    /// </summary>
    public async Task<T> CheckAsync<T>(int? subjects, Func<T> check, CancellationToken cancellationToken)
    {
        if (subjects is < LargeSubjects)
        {
            return check();
        }

        using (await EnterAsync(subjects, cancellationToken))
        {
            var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            _checks.Add(() =>
            {
                try
                {
                    done.TrySetResult(check());
                }
                catch (Exception e)
                {
                    done.TrySetException(e);
                }
            }, CancellationToken.None);
            return await done.Task;
        }
    }

    /// <summary>
    /// Waits for a slot when <paramref name="subjects"/> makes the claim large; the slot is held
    /// until the returned value is disposed.
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

    public void Dispose()
    {
        _checks.CompleteAdding();
        foreach (var checker in _checkers)
        {
            checker.Join();
        }

        _checks.Dispose();
        _slots.Dispose();
    }

    private void RunChecks()
    {
        ThreadNiceness.Lower();
        foreach (var check in _checks.GetConsumingEnumerable())
        {
            check();
        }
    }

    /// <summary>A held slot (or none, for a small claim); disposing it lets the next large claim in.</summary>
    public readonly struct Slot(SemaphoreSlim? slots) : IDisposable
    {
        public void Dispose() => slots?.Release();
    }
}

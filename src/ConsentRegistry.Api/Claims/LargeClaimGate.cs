using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// Checks large claims a few at a time (half the cores, at least one), on threads of its own that
/// yield the processor to the request threads, so that the large claims the write budgets let in,
/// several at once at a flood's start, neither take every core nor hold the thread pool while claims
/// of a few subjects (an artist's) wait. Checking a claim of 10,000 subjects (decoding its payload to
/// count them, its signature, then every subject parsed and canonicalized) takes tens of milliseconds of CPU;
/// on the pool, a few of them kept an artist's claim waiting for a thread for tens of milliseconds
/// (docs/benchmarks.md, abuse resistance). A claim is large by the length of its JWS, known before
/// anything is decoded; small claims are checked on the caller's thread and never wait here.
/// </summary>
public sealed class LargeClaimGate : IDisposable
{
    /// <summary>
    /// A JWS of this many characters or more is large. A claim of 1,000 subjects takes more: its
    /// shortest subject, <c>{"kind":"host","value":"a"}</c> and a comma, is 28 bytes of payload and 37
    /// characters once base64url-encoded.
    /// </summary>
    public const int LargeJwsChars = 32 * 1024;

    private readonly LowPriorityScheduler _checkers;

    public LargeClaimGate()
        : this(Math.Max(1, Environment.ProcessorCount / 2))
    {
    }

    public LargeClaimGate(int checkers) => _checkers = new LowPriorityScheduler(checkers, "Large claim checker");

    /// <summary>How many large claims are checked at once: one on each of the gate's threads; the others queue.</summary>
    public int Checkers => _checkers.MaximumConcurrencyLevel;

    /// <summary>Whether a claim whose JWS is <paramref name="jwsChars"/> characters long is checked here.</summary>
    public static bool IsLarge(int jwsChars) => jwsChars >= LargeJwsChars;

    /// <summary>
    /// Characters of large claims queued or being checked at most: each queued claim holds its JWS
    /// (two bytes a character) until a checker takes it, and bodies arrive faster than one thread
    /// checks them. Eight claims of the largest size; one claim is always taken, whatever its size.
    /// </summary>
    public const long MaxQueuedChars = 8L * CompactJws.MaxLength;

    private long _queuedChars;

    /// <summary>Characters of large claims queued or under check now.</summary>
    public long QueuedChars => Interlocked.Read(ref _queuedChars);

    /// <summary>
    /// Runs <paramref name="check"/>: on the caller's thread when <paramref name="jwsChars"/> makes
    /// the claim small, otherwise on one of the gate's threads in turn; null, with nothing run, when
    /// the large claims already queued hold <see cref="MaxQueuedChars"/> (the caller answers 503). A
    /// check whose caller is cancelled while it queues is not run.
    /// </summary>
    public Task<T>? TryCheckAsync<T>(int jwsChars, Func<T> check, CancellationToken cancellationToken)
    {
        if (IsLarge(jwsChars))
        {
            var queued = Interlocked.Add(ref _queuedChars, jwsChars);
            if (queued > MaxQueuedChars && queued != jwsChars)
            {
                Interlocked.Add(ref _queuedChars, -jwsChars);
                return null;
            }

            // Counted until a checker takes it off the queue, run or not: the queue holds it till then.
            return _checkers.Run(() =>
            {
                try
                {
                    return cancellationToken.IsCancellationRequested ? default! : check();
                }
                catch (Exception) when (cancellationToken.IsCancellationRequested)
                {
                    return default!; // its caller stopped waiting: nobody would observe the failure
                }
                finally
                {
                    Interlocked.Add(ref _queuedChars, -jwsChars);
                }
            }, CancellationToken.None).WaitAsync(cancellationToken);
        }

        try
        {
            return Task.FromResult(check());
        }
        catch (Exception e)
        {
            return Task.FromException<T>(e); // as from the gate's threads: the caller's await throws it
        }
    }

    public void Dispose() => _checkers.Dispose();
}

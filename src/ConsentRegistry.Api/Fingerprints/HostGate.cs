using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Api.Fingerprints;

/// <summary>
/// Politeness per host, within one worker: at most <c>Registry:Fetch:PerHostConcurrency</c>
/// requests in flight to a host, and none before the time its last 429 or 503 asked for
/// (<c>Retry-After</c>, or <paramref name="pauseWithoutRetryAfter"/> after a bare 429; both cut to
/// <paramref name="longestPause"/>). A host is forgotten when nothing waits on it and it asked for
/// no pause; hosts whose pauses have passed with nobody waiting are swept out as pauses are added,
/// so that every host that ever paused is not kept for the process's life.
/// </summary>
internal sealed class HostGate(int perHost, TimeProvider time, TimeSpan longestPause, TimeSpan pauseWithoutRetryAfter)
{
    /// <summary>Hosts tracked before the first sweep of passed pauses; after a sweep, twice those left.</summary>
    private const int FirstSweepAt = 256;

    private readonly Dictionary<string, HostState> _hosts = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _sweepAt = FirstSweepAt;

    /// <summary>Hosts tracked now: with a request in flight or waiting, or a pause (tests).</summary>
    internal int TrackedHosts
    {
        get
        {
            lock (_lock)
            {
                return _hosts.Count;
            }
        }
    }

    /// <summary>
    /// The key <paramref name="uri"/>'s host is gated under: its canonical form (lowercase, IDNA to
    /// punycode, no trailing dot), as a claimed URL writes it. A redirect names its target's host as
    /// it likes, and <c>Victim.example.</c>, <c>victim.example</c> and their Unicode and punycode
    /// forms are one origin: under keys of their own, each would have its own slots and pauses.
    /// A host the canonicaliser refuses (none that <see cref="Uri"/> takes is known) is lowercased
    /// without its trailing dots.
    /// </summary>
    public static string KeyOf(Uri uri) => HostCanonicalizer.TryCanonicalize(uri.Host, out var host, out _)
        ? host
        : uri.IdnHost.TrimEnd('.').ToLowerInvariant();

    /// <summary>
    /// Waits for one of the host's slots (dispose it to give it back), unless the host has asked
    /// for a pause: then returns no slot and the pause's end. The pause is checked again once a
    /// slot is free, or the jobs queued behind the request that got the 429 would go ahead.
    /// </summary>
    public async Task<(IDisposable? Slot, DateTimeOffset? PausedUntil)> EnterAsync(string host, CancellationToken cancellationToken)
    {
        HostState state;
        lock (_lock)
        {
            if (!_hosts.TryGetValue(host, out state!))
            {
                _hosts[host] = state = new HostState(perHost);
            }
            else if (PausedUntil(state) is { } until)
            {
                return (null, until);
            }

            state.Users++;
        }

        try
        {
            await state.Slots.WaitAsync(cancellationToken);
        }
        catch
        {
            Forget(host, state);
            throw;
        }

        var slot = new Slot(this, host, state);
        DateTimeOffset? pausedUntil;
        lock (_lock)
        {
            pausedUntil = PausedUntil(state);
        }

        if (pausedUntil is not null)
        {
            slot.Dispose();
            return (null, pausedUntil);
        }

        return (slot, null);
    }

    /// <summary>
    /// How long an answer asks the fetcher to stay away from its host: its <c>Retry-After</c>, cut
    /// to the longest pause (a host cannot hold its URLs' jobs back without end); after a 429
    /// without one, the default pause; otherwise none.
    /// </summary>
    public TimeSpan? PauseFor(TimeSpan? retryAfter, bool throttled)
    {
        var asked = retryAfter ?? (throttled ? pauseWithoutRetryAfter : null);
        return asked is { } wait ? TimeSpan.FromTicks(Math.Clamp(wait.Ticks, 0, longestPause.Ticks)) : null;
    }

    /// <summary>The host asked for a pause (HTTP 429 or 503 with Retry-After): call it before giving back the slot the request held, so that no job waiting for the slot goes ahead.</summary>
    public void Pause(string host, TimeSpan wait)
    {
        var until = time.GetUtcNow() + wait;
        lock (_lock)
        {
            if (!_hosts.TryGetValue(host, out var state))
            {
                _hosts[host] = state = new HostState(perHost);
            }

            state.NotBefore = state.NotBefore is { } current && current > until ? current : until;
            if (_hosts.Count >= _sweepAt)
            {
                SweepPassedPauses();
                _sweepAt = Math.Max(FirstSweepAt, 2 * _hosts.Count);
            }
        }
    }

    /// <summary>Forgets the hosts nobody waits on whose pauses have passed (called holding the lock; linear, amortised by <see cref="_sweepAt"/>).</summary>
    private void SweepPassedPauses()
    {
        var now = time.GetUtcNow();
        foreach (var (host, state) in _hosts)
        {
            if (state.Users == 0 && (state.NotBefore is null || state.NotBefore <= now))
            {
                _hosts.Remove(host); // removing while enumerating a Dictionary is allowed
            }
        }
    }

    /// <summary>The end of the host's pause, while it lasts (called holding the lock).</summary>
    private DateTimeOffset? PausedUntil(HostState state) =>
        state.NotBefore is { } notBefore && notBefore > time.GetUtcNow() ? notBefore : null;

    private void Forget(string host, HostState state)
    {
        lock (_lock)
        {
            if (--state.Users == 0 && (state.NotBefore is null || state.NotBefore <= time.GetUtcNow()))
            {
                _hosts.Remove(host);
            }
        }
    }

    private sealed class HostState(int perHost)
    {
        public SemaphoreSlim Slots { get; } = new(perHost, perHost);

        public int Users { get; set; }

        public DateTimeOffset? NotBefore { get; set; }
    }

    private sealed class Slot(HostGate gate, string host, HostState state) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                state.Slots.Release();
                gate.Forget(host, state);
            }
        }
    }
}

namespace ConsentRegistry.Api.Fingerprints;

/// <summary>
/// Politeness per host, within one worker: at most <c>Registry:Fetch:PerHostConcurrency</c>
/// requests in flight to a host, and none before the time its last 429 or 503 asked for
/// (<c>Retry-After</c>). A host is forgotten when nothing waits on it and it asked for no pause.
/// </summary>
internal sealed class HostGate(int perHost, TimeProvider time)
{
    private readonly Dictionary<string, HostState> _hosts = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>When the host may be asked again, if it asked the fetcher to wait; null when it may be asked now.</summary>
    public DateTimeOffset? WaitUntil(string host)
    {
        lock (_lock)
        {
            if (!_hosts.TryGetValue(host, out var state) || state.NotBefore is not { } notBefore)
            {
                return null;
            }

            if (notBefore > time.GetUtcNow())
            {
                return notBefore;
            }

            if (state.Users == 0)
            {
                _hosts.Remove(host); // a pause that has passed, kept by nobody
            }

            return null;
        }
    }

    /// <summary>Waits for one of the host's slots; dispose the result to give it back.</summary>
    public async Task<IDisposable> EnterAsync(string host, CancellationToken cancellationToken)
    {
        HostState state;
        lock (_lock)
        {
            if (!_hosts.TryGetValue(host, out state!))
            {
                _hosts[host] = state = new HostState(perHost);
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

        return new Slot(this, host, state);
    }

    /// <summary>The host asked for a pause (HTTP 429 or 503 with Retry-After).</summary>
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
        }
    }

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

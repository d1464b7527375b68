namespace ConsentRegistry.Api.Images;

/// <summary>
/// Bounds what image hashing may hold at once, so that a flood of uploads slows down instead of exhausting memory:
/// uploads in memory share a byte budget (refused with 503 when it is spent), decodes run at most one per processor
/// core, and images over <see cref="ImageLimits.LargePixels"/> decode one at a time (waiting up to
/// <see cref="MaxWait"/> for their turn).
/// </summary>
public sealed class ImageHashingGate
{
    /// <summary>Bytes of uploaded files held in memory at once, across requests.</summary>
    public const long UploadBudgetBytes = 512L * 1024 * 1024;

    /// <summary>How long a decode waits for a free slot before the request gets 503.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim _decodes;
    private readonly SemaphoreSlim _largeDecodes = new(1, 1);
    private readonly int _decodeSlots;
    private readonly long _uploadBudget;
    private long _uploadBytes;
    private int _waiting;

    public ImageHashingGate()
        : this(Environment.ProcessorCount, UploadBudgetBytes)
    {
    }

    internal ImageHashingGate(int decodeSlots, long uploadBudget)
    {
        _decodeSlots = decodeSlots;
        _decodes = new SemaphoreSlim(decodeSlots, decodeSlots);
        _uploadBudget = uploadBudget;
    }

    /// <summary>Reserves memory for an upload of up to <paramref name="bytes"/>; null when the budget is spent.</summary>
    public IDisposable? TryReserveUpload(long bytes)
    {
        if (Interlocked.Add(ref _uploadBytes, bytes) > _uploadBudget)
        {
            Interlocked.Add(ref _uploadBytes, -bytes);
            return null;
        }

        return new Lease(() => Interlocked.Add(ref _uploadBytes, -bytes));
    }

    /// <summary>Requests waiting for a decode slot (or, for a large image, for the large-image slot) now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Decode slots taken now.</summary>
    public int Decoding => _decodeSlots - _decodes.CurrentCount;

    /// <summary>Waits for a decode slot for an image of <paramref name="pixels"/> pixels; null when none came in time.</summary>
    public async Task<IDisposable?> EnterDecodeAsync(long pixels, CancellationToken cancellationToken)
    {
        if (!_decodes.Wait(0) && !await QueueAsync(_decodes, cancellationToken))
        {
            return null;
        }

        if (pixels <= ImageLimits.LargePixels)
        {
            return new Lease(() => _decodes.Release());
        }

        bool large;
        try
        {
            large = _largeDecodes.Wait(0) || await QueueAsync(_largeDecodes, cancellationToken);
        }
        catch
        {
            _decodes.Release();
            throw;
        }

        if (!large)
        {
            _decodes.Release();
            return null;
        }

        return new Lease(() =>
        {
            _largeDecodes.Release();
            _decodes.Release();
        });
    }

    /// <summary>Waits for <paramref name="slots"/> up to <see cref="MaxWait"/>, counted in <see cref="Waiting"/> meanwhile.</summary>
    private async Task<bool> QueueAsync(SemaphoreSlim slots, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _waiting);
        try
        {
            return await slots.WaitAsync(MaxWait, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    private sealed class Lease(Action release) : IDisposable
    {
        private Action? _release = release;

        public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
    }
}

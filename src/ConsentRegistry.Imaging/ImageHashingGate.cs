using System.Diagnostics;

namespace ConsentRegistry.Imaging;

/// <summary>
/// Bounds what image hashing may hold at once, so that a flood of uploads slows down instead of exhausting memory:
/// uploads in memory share a byte budget (refused with 503 when it is spent), decodes run at most one per processor
/// core, and the pixel buffers of the decodes running share a second byte budget (<see cref="DecodeBudgetBytes"/>),
/// each decode reserving what <see cref="EncodedImage.DecodeBytes"/> says it will hold before it starts. A decode
/// waits up to <see cref="MaxWait"/> in all for its slot and its bytes, first come first served.
/// Once decodes of <see cref="TrimAfterBytes"/> or more have finished and, <see cref="TrimDelay"/>
/// after the last of them ended, none is running, the C allocator's free memory is given back to the system
/// (<see cref="NativeHeap.Trim"/>): the decoders' native buffers would otherwise stay resident.
/// </summary>
public sealed class ImageHashingGate
{
    /// <summary>Bytes of uploaded files held in memory at once, across requests.</summary>
    public const long UploadBudgetBytes = 512L * 1024 * 1024;

    /// <summary>
    /// Bytes of decoded pixels held at once, across requests: four whole-decoded 16-megapixel images, or a few
    /// hundred decoded row by row (about 1 MB each). A larger decode (a PNG up to 400 MB) takes all of it, and so runs alone.
    /// </summary>
    public const long DecodeBudgetBytes = 256L * 1024 * 1024;

    /// <summary>How long a decode waits for a free slot and its bytes before the request gets 503.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(10);

    /// <summary>Decode bytes reserved since the last trim of the native heap after which the next idle moment trims it.</summary>
    public const long TrimAfterBytes = 64L * 1024 * 1024;

    /// <summary>How long after the last decode ended the native heap is trimmed, if none is running then.</summary>
    public static readonly TimeSpan TrimDelay = TimeSpan.FromSeconds(1);

    private const long BudgetUnit = 1024 * 1024;

    private readonly SemaphoreSlim _decodes;
    private readonly SemaphoreSlim _budget;
    private readonly SemaphoreSlim _budgetTurn = new(1, 1);
    private readonly int _decodeSlots;
    private readonly int _budgetUnits;
    private readonly long _uploadBudget;
    private readonly Func<bool> _trim;
    private readonly TimeSpan _trimDelay;
    private long _uploadBytes;
    private int _waiting;
    private long _unitsSinceTrim;
    private int _trimScheduled;

    public ImageHashingGate()
        : this(Environment.ProcessorCount, UploadBudgetBytes)
    {
    }

    internal ImageHashingGate(int decodeSlots, long uploadBudget, long decodeBudget = DecodeBudgetBytes, Func<bool>? trim = null, TimeSpan? trimDelay = null)
    {
        _trim = trim ?? NativeHeap.Trim;
        _trimDelay = trimDelay ?? TrimDelay;
        _decodeSlots = decodeSlots;
        _decodes = new SemaphoreSlim(decodeSlots, decodeSlots);
        _uploadBudget = uploadBudget;
        _budgetUnits = (int)Math.Max(1, decodeBudget / BudgetUnit);
        _budget = new SemaphoreSlim(_budgetUnits, _budgetUnits);
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

    /// <summary>Bytes of the upload budget held now.</summary>
    public long UploadBytesReserved => Interlocked.Read(ref _uploadBytes);

    /// <summary>Requests waiting for a decode slot or for decode bytes now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Decode slots taken now.</summary>
    public int Decoding => _decodeSlots - _decodes.CurrentCount;

    /// <summary>Bytes of the decode budget reserved now, in whole mebibytes.</summary>
    public long DecodeBytesReserved => (_budgetUnits - _budget.CurrentCount) * BudgetUnit;

    /// <summary>
    /// Waits for a decode slot and <paramref name="decodeBytes"/> of the decode budget (all of it when more is
    /// asked); null when they did not come within <see cref="MaxWait"/>.
    /// </summary>
    public async Task<IDisposable?> EnterDecodeAsync(long decodeBytes, CancellationToken cancellationToken)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(MaxWait.TotalSeconds * Stopwatch.Frequency);
        if (!_decodes.Wait(0) && !await QueueAsync(_decodes, deadline, cancellationToken))
        {
            return null;
        }

        int units = (int)Math.Clamp((decodeBytes + BudgetUnit - 1) / BudgetUnit, 1, _budgetUnits);
        bool reserved;
        try
        {
            reserved = await ReserveAsync(units, deadline, cancellationToken);
        }
        catch
        {
            _decodes.Release();
            throw;
        }

        if (!reserved)
        {
            _decodes.Release();
            return null;
        }

        return new Lease(() =>
        {
            _budget.Release(units);
            _decodes.Release();
            AfterDecode(units);
        });
    }

    /// <summary>Schedules a trim of the native heap once enough was decoded and the last decode running has ended.</summary>
    private void AfterDecode(int units)
    {
        if (Interlocked.Add(ref _unitsSinceTrim, units) * BudgetUnit >= TrimAfterBytes && Decoding == 0 && Interlocked.Exchange(ref _trimScheduled, 1) == 0)
        {
            _ = TrimWhenIdleAsync();
        }
    }

    private async Task TrimWhenIdleAsync()
    {
        while (true)
        {
            await Task.Delay(_trimDelay).ConfigureAwait(false);
            if (Decoding == 0)
            {
                // A decode that starts now is not harmed: trimming only returns pages that are free.
                Interlocked.Exchange(ref _unitsSinceTrim, 0);
                try
                {
                    _trim();
                }
                catch (Exception)
                {
                    // Trimming is an optimisation: a failure leaves the memory where it was.
                }
            }

            Volatile.Write(ref _trimScheduled, 0);

            // A decode that ended while this one waited found the trim already scheduled: look again.
            if (Interlocked.Read(ref _unitsSinceTrim) * BudgetUnit < TrimAfterBytes || Decoding != 0 || Interlocked.Exchange(ref _trimScheduled, 1) != 0)
            {
                return;
            }
        }
    }

    /// <summary>Takes <paramref name="units"/> of the budget, one caller at a time so that two never hold half each.</summary>
    private async Task<bool> ReserveAsync(int units, long deadline, CancellationToken cancellationToken)
    {
        if (!_budgetTurn.Wait(0) && !await QueueAsync(_budgetTurn, deadline, cancellationToken))
        {
            return false;
        }

        int taken = 0;
        try
        {
            while (taken < units && (_budget.Wait(0) || await QueueAsync(_budget, deadline, cancellationToken)))
            {
                taken++;
            }
        }
        catch
        {
            if (taken > 0)
            {
                _budget.Release(taken);
            }

            throw;
        }
        finally
        {
            _budgetTurn.Release();
        }

        if (taken < units)
        {
            if (taken > 0)
            {
                _budget.Release(taken);
            }

            return false;
        }

        return true;
    }

    /// <summary>Waits for <paramref name="slots"/> until <paramref name="deadline"/>, counted in <see cref="Waiting"/> meanwhile.</summary>
    private async Task<bool> QueueAsync(SemaphoreSlim slots, long deadline, CancellationToken cancellationToken)
    {
        var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
        if (left <= TimeSpan.Zero)
        {
            return false;
        }

        Interlocked.Increment(ref _waiting);
        try
        {
            return await slots.WaitAsync(left, cancellationToken);
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

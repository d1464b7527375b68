using System.Diagnostics;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace ConsentRegistry.Api.Lookup;

/// <summary>
/// A stream's request body, read with an idle limit of its own in place of the server's minimum
/// body rate (240 bytes a second after 5 s), which counts pauses: a client that sends a line, waits
/// for its answer and pauses would be cut. The limit is on the time spent waiting for the client
/// since its last complete line (<see cref="LineCompleted"/>), so a trickle of bytes that never
/// ends a line does not hold the stream either; time spent answering is not counted. A read past
/// the limit ends the stream (<see cref="ReadAsync"/> answers null).
/// </summary>
internal sealed class IdleTimedReader : IDisposable
{
    private readonly PipeReader _input;
    private readonly TimeSpan _idleTimeout;
    private readonly CancellationToken _requestAborted;
    private CancellationTokenSource _idle;
    private TimeSpan _left;

    public IdleTimedReader(HttpContext context, TimeSpan idleTimeout, CancellationToken requestAborted)
    {
        if (context.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rate)
        {
            rate.MinDataRate = null; // HTTP/1.1 and HTTP/2 alike (the only setting HTTP/2 takes)
        }

        (_input, _idleTimeout, _requestAborted, _left) = (context.Request.BodyReader, idleTimeout, requestAborted, idleTimeout);
        _idle = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
    }

    public PipeReader Input => _input;

    /// <summary>The client completed a line: its wait starts afresh.</summary>
    public void LineCompleted() => _left = _idleTimeout;

    /// <summary>The next read, or null when the client has been waited for the idle timeout since its last complete line.</summary>
    public async ValueTask<ReadResult?> ReadAsync()
    {
        if (_left <= TimeSpan.Zero)
        {
            return null;
        }

        var started = Stopwatch.GetTimestamp();
        _idle.CancelAfter(_left);
        try
        {
            return await _input.ReadAsync(_idle.Token);
        }
        catch (OperationCanceledException) when (!_requestAborted.IsCancellationRequested)
        {
            _left = TimeSpan.Zero;
            return null;
        }
        finally
        {
            _left -= Stopwatch.GetElapsedTime(started);
            if (!_idle.TryReset() && !_requestAborted.IsCancellationRequested)
            {
                // The timer fired as the bytes came: a fresh source, so that the next read is not refused.
                _idle.Dispose();
                _idle = CancellationTokenSource.CreateLinkedTokenSource(_requestAborted);
            }
        }
    }

    public void Dispose() => _idle.Dispose();
}

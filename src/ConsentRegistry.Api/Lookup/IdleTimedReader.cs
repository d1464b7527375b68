using System.IO.Pipelines;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace ConsentRegistry.Api.Lookup;

/// <summary>
/// A stream's request body, read with an idle limit of its own in place of the server's minimum
/// body rate (240 bytes a second after 5 s), which counts pauses: a client that sends a line, waits
/// for its answer and pauses would be cut. A read that gets nothing for the idle timeout ends the
/// stream (<see cref="ReadAsync"/> answers null); time spent answering is not counted.
/// </summary>
internal sealed class IdleTimedReader : IDisposable
{
    private readonly PipeReader _input;
    private readonly TimeSpan _idleTimeout;
    private readonly CancellationToken _requestAborted;
    private CancellationTokenSource _idle;

    public IdleTimedReader(HttpContext context, TimeSpan idleTimeout, CancellationToken requestAborted)
    {
        if (context.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rate)
        {
            rate.MinDataRate = null; // HTTP/1.1 and HTTP/2 alike (the only setting HTTP/2 takes)
        }

        (_input, _idleTimeout, _requestAborted) = (context.Request.BodyReader, idleTimeout, requestAborted);
        _idle = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
    }

    public PipeReader Input => _input;

    /// <summary>The next read, or null when the client sent nothing for the idle timeout.</summary>
    public async ValueTask<ReadResult?> ReadAsync()
    {
        _idle.CancelAfter(_idleTimeout);
        try
        {
            return await _input.ReadAsync(_idle.Token);
        }
        catch (OperationCanceledException) when (!_requestAborted.IsCancellationRequested)
        {
            return null;
        }
        finally
        {
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

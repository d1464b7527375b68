namespace ConsentRegistry.Cli.Http;

/// <summary>
/// Reads an answer's body with a deadline on each read. <see cref="RegistryHttp"/> times only the
/// headers, and HttpClient's own timeout is off (a snapshot takes as long as it takes): a registry,
/// or a proxy, that sends the headers and then nothing would hold the command for ever. A read
/// that waits longer than <see cref="StallTimeout"/> for its next bytes throws an
/// <see cref="IOException"/>, which every reader already takes for an answer cut off.
/// </summary>
internal sealed class BodyReader : IDisposable
{
    /// <summary>How long a read may wait for the next bytes before the answer counts as stalled.</summary>
    public static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60);

    private readonly Stream _body;
    private readonly CancellationToken _cancellationToken;
    private readonly CancellationTokenSource _stall;

    private BodyReader(Stream body, CancellationToken cancellationToken)
    {
        _body = body;
        _cancellationToken = cancellationToken;
        _stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    public static async Task<BodyReader> OpenAsync(HttpContent content, CancellationToken cancellationToken) =>
        new(await content.ReadAsStreamAsync(cancellationToken), cancellationToken);

    /// <summary>The next bytes of the body into <paramref name="buffer"/>; 0 at its end.</summary>
    public async ValueTask<int> ReadAsync(Memory<byte> buffer)
    {
        _stall.CancelAfter(StallTimeout);
        try
        {
            return await _body.ReadAsync(buffer, _stall.Token);
        }
        catch (OperationCanceledException e) when (!_cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"no bytes for {StallTimeout.TotalSeconds:F0} s", e);
        }
        finally
        {
            // Only a read is timed: the caller may take its time with the bytes (a slow disk).
            _stall.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose()
    {
        _body.Dispose();
        _stall.Dispose();
    }
}

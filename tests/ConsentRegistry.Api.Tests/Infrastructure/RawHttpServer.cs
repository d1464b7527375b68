using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>
/// A loopback TCP server that answers each request with raw bytes and then closes the connection:
/// for responses Kestrel will not produce, such as a body cut short of its Content-Length. The
/// bytes are the same for every request, or made from the request's head (its request line and
/// headers) by a handler.
/// </summary>
public sealed class RawHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<string, Task<byte[]>> _answer;
    private readonly Task _accepting;

    public RawHttpServer(string response)
        : this(_ => Task.FromResult(Encoding.ASCII.GetBytes(response)))
    {
    }

    public RawHttpServer(Func<string, Task<byte[]>> answer)
    {
        _answer = answer;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>Headers promise 100 bytes of body; 10 come, then the connection closes.</summary>
    public static RawHttpServer BreaksMidBody() =>
        new("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"keys\": [");

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = AnswerAsync(client);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            var request = new List<byte>();
            var buffer = new byte[4096];
            while (!EndsWithBlankLine(request))
            {
                var read = await stream.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    return;
                }

                request.AddRange(buffer.AsSpan(0, read));
            }

            await stream.WriteAsync(await _answer(Encoding.ASCII.GetString(request.ToArray())), _stop.Token);
            await stream.FlushAsync(_stop.Token);
        }
    }

    private static bool EndsWithBlankLine(List<byte> bytes) =>
        bytes.Count >= 4 && bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n';

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}

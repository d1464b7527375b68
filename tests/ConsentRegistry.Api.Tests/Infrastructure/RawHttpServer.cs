using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>
/// A loopback TCP server that answers each request with raw bytes and then closes the connection:
/// for responses Kestrel will not produce, such as a body cut short of its Content-Length. The
/// bytes are the same for every request, or made from the request's head (its request line and
/// headers) by a handler; a request's body is read and dropped. With <c>holdOpen</c>, the
/// connection then stays open and silent until the server is disposed: an answer that stalls.
/// </summary>
public sealed class RawHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<string, Task<byte[]>> _answer;
    private readonly bool _holdOpen;
    private readonly Task _accepting;

    public RawHttpServer(string response)
        : this(_ => Task.FromResult(Encoding.ASCII.GetBytes(response)))
    {
    }

    public RawHttpServer(Func<string, Task<byte[]>> answer, bool holdOpen = false)
    {
        _answer = answer;
        _holdOpen = holdOpen;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    private const string TenOfHundredBytes = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"keys\": [";

    /// <summary>Headers promise 100 bytes of body; 10 come, then the connection closes.</summary>
    public static RawHttpServer BreaksMidBody() => new(TenOfHundredBytes);

    /// <summary>Headers promise 100 bytes of body; 10 come, then nothing more, the connection open.</summary>
    public static RawHttpServer StallsMidBody() => new(_ => Task.FromResult(Encoding.ASCII.GetBytes(TenOfHundredBytes)), holdOpen: true);

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
        catch (Exception e) when (_stop.IsCancellationRequested && e is InvalidOperationException or ObjectDisposedException or SocketException)
        {
            // Disposed between two accepts: the loop asked a listener already stopped ("Not listening").
        }
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            var request = new List<byte>();
            var buffer = new byte[4096];
            int headLength;
            while ((headLength = HeadLength(request)) < 0)
            {
                if (!await ReadAsync(stream, buffer, request))
                {
                    return;
                }
            }

            // The body (a POST's) is read too before answering: a socket closed with bytes unread
            // is reset, and the client might lose the answer.
            var head = Encoding.ASCII.GetString(request.ToArray(), 0, headLength);
            while (request.Count - headLength < ContentLength(head))
            {
                if (!await ReadAsync(stream, buffer, request))
                {
                    return;
                }
            }

            await stream.WriteAsync(await _answer(head), _stop.Token);
            await stream.FlushAsync(_stop.Token);
            if (_holdOpen)
            {
                await Task.Delay(Timeout.Infinite, _stop.Token);
            }
        }
    }

    private async Task<bool> ReadAsync(NetworkStream stream, byte[] buffer, List<byte> request)
    {
        var read = await stream.ReadAsync(buffer, _stop.Token);
        request.AddRange(buffer.AsSpan(0, read));
        return read > 0;
    }

    /// <summary>The length of the request line and headers with the blank line after them; -1 until they have all come.</summary>
    private static int HeadLength(List<byte> bytes)
    {
        for (var i = 3; i < bytes.Count; i++)
        {
            if (bytes[i - 3] == '\r' && bytes[i - 2] == '\n' && bytes[i - 1] == '\r' && bytes[i] == '\n')
            {
                return i + 1;
            }
        }

        return -1;
    }

    private static long ContentLength(string head) =>
        head.Split("\r\n").FirstOrDefault(line => line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) is { } header
            ? long.Parse(header["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)
            : 0;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}

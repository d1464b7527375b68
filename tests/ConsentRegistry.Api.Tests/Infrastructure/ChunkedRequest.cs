using System.Net.Sockets;
using System.Text;

namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>
/// A raw HTTP/1.1 POST with a chunked body over a socket, for what HttpClient cannot show: a body
/// of unknown length, answers read while the body is still open, a client that vanishes mid-body.
/// </summary>
public sealed class ChunkedRequest : IDisposable
{
    private readonly TcpClient _socket;

    private ChunkedRequest(TcpClient socket)
    {
        _socket = socket;
        Stream = socket.GetStream();
        Response = new StreamReader(Stream, Encoding.ASCII);
    }

    public NetworkStream Stream { get; }

    /// <summary>The response as text, line by line (status line, headers, then chunked body).</summary>
    public StreamReader Response { get; }

    /// <summary>Sends the request head; <c>Connection: close</c> so that the response ends with the connection.</summary>
    public static async Task<ChunkedRequest> StartAsync(Uri server, string path, string contentType)
    {
        var socket = new TcpClient();
        await socket.ConnectAsync(server.Host, server.Port);
        var request = new ChunkedRequest(socket);
        await request.Stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST {path} HTTP/1.1\r\nHost: {server.Authority}\r\nConnection: close\r\nContent-Type: {contentType}\r\nTransfer-Encoding: chunked\r\n\r\n"));
        return request;
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendAsync(byte[] chunk)
    {
        await Stream.WriteAsync(Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"));
        await Stream.WriteAsync(chunk);
        await Stream.WriteAsync("\r\n"u8.ToArray());
    }

    public async Task EndAsync() => await Stream.WriteAsync("0\r\n\r\n"u8.ToArray());

    /// <summary>Resets the connection: the client is gone without ending its body.</summary>
    public void Abort() => _socket.Client.Close(0);

    /// <summary>The status line and the headers (until the blank line).</summary>
    public async Task<(string StatusLine, List<string> Headers)> ReadHeadAsync()
    {
        var status = await Response.ReadLineAsync() ?? "";
        var headers = new List<string>();
        for (var line = await Response.ReadLineAsync(); !string.IsNullOrEmpty(line); line = await Response.ReadLineAsync())
        {
            headers.Add(line);
        }

        return (status, headers);
    }

    public void Dispose() => _socket.Dispose();
}

using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ConsentRegistry.Api.Tests.Cli;

/// <summary>
/// A registry that misbehaves on purpose, on loopback: a bare HTTP/1.1 server (one request per
/// connection) that passes every request through to a real registry, except the snapshot file's
/// downloads, which it answers by <see cref="FileAnswer"/>s in turn: a 429 with Retry-After, a body
/// cut off halfway, a whole file where a range was asked for. It records the file requests' ranges.
/// </summary>
internal sealed class ScriptedRegistry : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly HttpClient _registry;
    private readonly Queue<FileAnswer> _answers;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    public ScriptedRegistry(HttpClient registry, params FileAnswer[] answers)
    {
        _registry = registry;
        _answers = new Queue<FileAnswer>(answers);
        _listener.Start();
        _serving = ServeAsync();
    }

    public enum FileAnswer
    {
        /// <summary>429 Too Many Requests, Retry-After: 1.</summary>
        TooManyRequests,

        /// <summary>200 with the file's full length announced, half of it sent, then the connection closed.</summary>
        CutOffHalfway,

        /// <summary>200 with the whole file, whatever range was asked for.</summary>
        WholeIgnoringRange,
    }

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/";

    /// <summary>The Range header of each request for the snapshot file, in order (null when none).</summary>
    public List<string?> FileRanges { get; } = [];

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _serving.ContinueWith(static _ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = Task.Run(() => AnswerAsync(client));
        }
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            var (path, range) = await ReadHeadAsync(stream);
            if (path.StartsWith("/v1/snapshots/", StringComparison.Ordinal) && path.EndsWith(".snap", StringComparison.Ordinal))
            {
                FileAnswer answer;
                lock (_answers)
                {
                    FileRanges.Add(range);
                    answer = _answers.TryDequeue(out var next) ? next : FileAnswer.WholeIgnoringRange;
                }

                await AnswerFileAsync(stream, path, answer);
                return;
            }

            using var response = await _registry.GetAsync(path);
            var body = await response.Content.ReadAsByteArrayAsync();
            await WriteAsync(stream, (int)response.StatusCode, response.Content.Headers.ContentType?.ToString() ?? "application/octet-stream", body, body.Length);
        }
    }

    private async Task AnswerFileAsync(NetworkStream stream, string path, FileAnswer answer)
    {
        var file = await _registry.GetByteArrayAsync(path);
        switch (answer)
        {
            case FileAnswer.TooManyRequests:
                await WriteAsync(stream, 429, "application/problem+json", """{"status":429}"""u8.ToArray(), extraHeaders: "Retry-After: 1\r\n");
                break;
            case FileAnswer.CutOffHalfway:
                await WriteAsync(stream, 200, "application/octet-stream", file[..(file.Length / 2)], file.Length);
                break;
            default:
                await WriteAsync(stream, 200, "application/octet-stream", file, file.Length);
                break;
        }
    }

    private static async Task WriteAsync(NetworkStream stream, int status, string contentType, byte[] body, int? announced = null, string extraHeaders = "")
    {
        var head = $"HTTP/1.1 {status} {(status == 200 ? "OK" : "Status")}\r\nContent-Type: {contentType}\r\nContent-Length: {announced ?? body.Length}\r\n{extraHeaders}Connection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(body);
        await stream.FlushAsync();
    }

    /// <summary>The request's path and Range header, read up to the blank line after its headers.</summary>
    private static async Task<(string Path, string? Range)> ReadHeadAsync(NetworkStream stream)
    {
        var head = new StringBuilder();
        var buffer = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(buffer) == 1)
        {
            head.Append((char)buffer[0]);
        }

        var lines = head.ToString().Split("\r\n");
        var path = lines[0].Split(' ')[1];
        var range = lines.FirstOrDefault(line => line.StartsWith("Range:", StringComparison.OrdinalIgnoreCase))?[6..].Trim();
        return (path, range);
    }
}

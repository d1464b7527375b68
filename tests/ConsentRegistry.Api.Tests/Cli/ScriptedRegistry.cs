using System.Text;
using ConsentRegistry.Api.Tests.Infrastructure;

namespace ConsentRegistry.Api.Tests.Cli;

/// <summary>
/// A registry that misbehaves on purpose, on loopback (<see cref="RawHttpServer"/>): it passes
/// every request through to a real registry, except the snapshot file's downloads, which it
/// answers by <see cref="FileAnswer"/>s in turn: a 429 with Retry-After, a body cut off halfway, a
/// whole file where a range was asked for, a byte too many, a 404. It records the file requests' ranges, and can replay
/// an older manifest as the newest, or serve another key as the registry's.
/// </summary>
internal sealed class ScriptedRegistry : IAsyncDisposable
{
    private readonly HttpClient _registry;
    private readonly Queue<FileAnswer> _answers;
    private readonly RawHttpServer _server;

    public ScriptedRegistry(HttpClient registry, params FileAnswer[] answers)
    {
        _registry = registry;
        _answers = new Queue<FileAnswer>(answers);
        _server = new RawHttpServer(AnswerAsync);
    }

    public enum FileAnswer
    {
        /// <summary>429 Too Many Requests, Retry-After: 1.</summary>
        TooManyRequests,

        /// <summary>200 with the file's full length announced, half of it sent, then the connection closed.</summary>
        CutOffHalfway,

        /// <summary>200 with the whole file, whatever range was asked for.</summary>
        WholeIgnoringRange,

        /// <summary>200 with the whole file and one byte more.</summary>
        OneByteTooMany,

        /// <summary>404, as from an instance behind the same balancer that does not hold the snapshot.</summary>
        NotFound,

        /// <summary>416 Range Not Satisfiable, whatever range was asked for.</summary>
        RangeNotSatisfiable,
    }

    public string Url => $"http://127.0.0.1:{_server.Port}/";

    /// <summary>When set, the answer to <c>/v1/snapshots/latest</c> in place of the registry's (a manifest replayed).</summary>
    public byte[]? LatestManifest { get; init; }

    /// <summary>When set, the answer to <c>/v1/registry-key</c> in place of the registry's (a key swapped).</summary>
    public byte[]? RegistryKey { get; init; }

    /// <summary>The Range header of each request for the snapshot file, in order (null when none).</summary>
    public List<string?> FileRanges { get; } = [];

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private async Task<byte[]> AnswerAsync(string head)
    {
        var lines = head.Split("\r\n");
        var path = lines[0].Split(' ')[1];
        if (path == "/v1/snapshots/latest" && LatestManifest is { } replayed)
        {
            return Response(200, "application/json", replayed);
        }

        if (path == "/v1/registry-key" && RegistryKey is { } swapped)
        {
            return Response(200, "application/json", swapped);
        }

        if (!(path.StartsWith("/v1/snapshots/", StringComparison.Ordinal) && path.EndsWith(".snap", StringComparison.Ordinal)))
        {
            using var response = await _registry.GetAsync(path);
            var body = await response.Content.ReadAsByteArrayAsync();
            return Response((int)response.StatusCode, response.Content.Headers.ContentType?.ToString() ?? "application/octet-stream", body, body.Length);
        }

        FileAnswer answer;
        lock (_answers)
        {
            FileRanges.Add(lines.FirstOrDefault(line => line.StartsWith("Range:", StringComparison.OrdinalIgnoreCase))?[6..].Trim());
            answer = _answers.TryDequeue(out var next) ? next : FileAnswer.WholeIgnoringRange;
        }

        var file = await _registry.GetByteArrayAsync(path);
        return answer switch
        {
            FileAnswer.TooManyRequests => Response(429, "application/problem+json", """{"status":429}"""u8.ToArray(), extraHeaders: "Retry-After: 1\r\n"),
            FileAnswer.CutOffHalfway => Response(200, "application/octet-stream", file[..(file.Length / 2)], file.Length),
            FileAnswer.OneByteTooMany => Response(200, "application/octet-stream", [.. file, 0]),
            FileAnswer.NotFound => Response(404, "application/problem+json", """{"status":404}"""u8.ToArray()),
            FileAnswer.RangeNotSatisfiable => Response(416, "application/problem+json", """{"status":416}"""u8.ToArray(), extraHeaders: $"Content-Range: bytes */{file.Length}\r\n"),
            _ => Response(200, "application/octet-stream", file, file.Length),
        };
    }

    private static byte[] Response(int status, string contentType, byte[] body, int? announced = null, string extraHeaders = "")
    {
        var head = $"HTTP/1.1 {status} {(status == 200 ? "OK" : "Status")}\r\nContent-Type: {contentType}\r\nContent-Length: {announced ?? body.Length}\r\n{extraHeaders}Connection: close\r\n\r\n";
        return [.. Encoding.ASCII.GetBytes(head), .. body];
    }
}

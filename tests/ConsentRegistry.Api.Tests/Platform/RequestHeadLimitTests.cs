using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ConsentRegistry.Api.Tests.Infrastructure;

namespace ConsentRegistry.Api.Tests.Platform;

/// <summary>
/// An over-long target or header block is refused in the registry's own words (problem+json),
/// not with Kestrel's bodiless 414 and 431; only what Kestrel cannot parse at all stays bodiless.
/// </summary>
public sealed class RequestHeadLimitTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task A_path_and_query_over_8_KiB_get_414_problem_json()
    {
        var (status, contentType, body) = await SendRawAsync($"GET /v1/policy?url={new string('a', 9_000)} HTTP/1.1\r\n", "");

        Assert.Equal(414, status);
        Assert.Equal("application/problem+json", contentType);
        Assert.Equal("uri-too-long", JsonDocument.Parse(body).RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Headers_over_32_KiB_get_431_problem_json()
    {
        var headers = string.Concat(Enumerable.Range(0, 5).Select(i => $"X-Filler-{i}: {new string('b', 7_000)}\r\n"));

        var (status, contentType, body) = await SendRawAsync("GET /health/live HTTP/1.1\r\n", headers);

        Assert.Equal(431, status);
        Assert.Equal("application/problem+json", contentType);
        Assert.Equal("headers-too-large", JsonDocument.Parse(body).RootElement.GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_request_within_the_limits_is_served()
    {
        var (status, _, _) = await SendRawAsync($"GET /health/live?pad={new string('c', 7_000)} HTTP/1.1\r\n", $"X-Filler: {new string('d', 20_000)}\r\n");

        Assert.Equal(200, status);
    }

    [Fact]
    public async Task A_request_line_kestrel_cannot_parse_keeps_its_bodiless_400()
    {
        // Documented limitation: Kestrel answers before any middleware, and ASP.NET Core has no hook for it.
        var (status, _, body) = await SendRawAsync("NOT A REQUEST LINE\r\n", "");

        Assert.Equal(400, status);
        Assert.Equal("", body);
    }

    private async Task<(int Status, string? ContentType, string Body)> SendRawAsync(string requestLine, string headers)
    {
        var server = registry.App.ClientOptions.BaseAddress;
        using var socket = new TcpClient();
        await socket.ConnectAsync(server.Host, server.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"{requestLine}Host: {server.Authority}\r\nConnection: close\r\n{headers}\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var response = await reader.ReadToEndAsync();
        var head = response[..response.IndexOf("\r\n\r\n", StringComparison.Ordinal)];
        var body = response[(head.Length + 4)..];
        var lines = head.Split("\r\n");
        var contentType = lines.Skip(1).FirstOrDefault(l => l.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase))?.Split(':', 2)[1].Trim().Split(';')[0];
        if (lines.Any(l => l.Equals("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase)))
        {
            body = Unchunk(body);
        }

        return (int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), contentType, body);
    }

    private static string Unchunk(string chunked)
    {
        var result = new StringBuilder();
        var at = 0;
        while (true)
        {
            var lineEnd = chunked.IndexOf("\r\n", at, StringComparison.Ordinal);
            var size = Convert.ToInt32(chunked[at..lineEnd], 16);
            if (size == 0)
            {
                return result.ToString();
            }

            result.Append(chunked, lineEnd + 2, size);
            at = lineEnd + 2 + size + 2;
        }
    }
}

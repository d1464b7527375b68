using System.Net;
using System.Net.Sockets;
using System.Text;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Lookup;

/// <summary>
/// A stream's client may send a line, wait for its answer and pause before the next (a crawler
/// asking as it finds URLs): the stream holds through pauses up to <c>Registry:Lookup:StreamIdleTimeout</c>,
/// and ends, its complete lines answered, after a longer silence. Raw connections, chunked, so that
/// the test decides when each line is sent.
/// </summary>
public sealed class StreamIdleTests
{
    [Fact]
    public async Task A_stream_whose_client_pauses_between_lines_answers_the_line_after_the_pause()
    {
        await using var app = await RegistryApp.StartAsync();
        await OptOutAsync(app, "https://pausing.example/a.jpg");
        using var connection = await StreamConnection.OpenAsync(app);

        await connection.SendLineAsync("{\"url\":\"https://pausing.example/a.jpg\"}");
        Assert.Contains("\"train-ai\":\"disallow\"", await connection.ReadUntilAsync("\"i\":0"));
        // Longer than the server's 5 s grace at a rate far below its default 240 bytes a second.
        await Task.Delay(TimeSpan.FromSeconds(8));
        await connection.SendLineAsync("{\"url\":\"https://pausing.example/a.jpg\"}");

        Assert.Contains("\"train-ai\":\"disallow\"", await connection.ReadUntilAsync("\"i\":1"));
    }

    [Fact]
    public async Task A_stream_silent_past_its_idle_timeout_ends_after_answering_its_lines()
    {
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Lookup:StreamIdleTimeout"] = "00:00:02" });
        await OptOutAsync(app, "https://silent.example/a.jpg");
        using var connection = await StreamConnection.OpenAsync(app);

        await connection.SendAsync("{\"url\":\"https://silent.example/a.jpg\"}\n{\"url\":\"https://silent.example/b.jpg\"}\n{\"url\":\"https://silent.example/");
        var received = await connection.ReadToEndAsync(TimeSpan.FromSeconds(15));

        Assert.Contains("HTTP/1.1 200", received);
        Assert.Contains("\"i\":1", received);
        Assert.DoesNotContain("\"i\":2", received); // the line cut off by the silence is not answered
        Assert.Contains("\r\n0\r\n\r\n", received); // the answer ended as a whole, not cut
    }

    [Fact]
    public async Task A_client_that_trickles_bytes_without_ending_a_line_is_ended_at_its_idle_timeout()
    {
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Lookup:StreamIdleTimeout"] = "00:00:03" });
        await OptOutAsync(app, "https://trickle.example/a.jpg");
        using var connection = await StreamConnection.OpenAsync(app);
        await connection.SendLineAsync("{\"url\":\"https://trickle.example/a.jpg\"}");
        await connection.ReadUntilAsync("\"i\":0");
        var started = DateTime.UtcNow;

        // A byte a second, each well within the timeout, none of them ending the line: 8 s in all.
        var trickling = Task.Run(async () =>
        {
            for (var i = 0; i < 8; i++)
            {
                await connection.SendAsync(i == 0 ? "{" : " ");
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        });
        var received = await connection.ReadToEndAsync(TimeSpan.FromSeconds(30));

        Assert.Contains("\r\n0\r\n\r\n", received); // ended as a whole
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(7.5), $"ended after {DateTime.UtcNow - started}: the trickle held it");
        await trickling.ContinueWith(_ => { }, TaskScheduler.Default); // sends may fail once the server has closed
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("02:00:00")]
    public async Task An_idle_timeout_out_of_range_stops_the_start_with_a_message_saying_how_to_fix_it(string value)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Lookup:StreamIdleTimeout"] = value });

        var error = Assert.ThrowsAny<Exception>(app.StartServer);

        Assert.Contains($"Registry:Lookup:StreamIdleTimeout is {value}; use 00:00:01 to 01:00:00", error.ToString());
    }

    private static async Task OptOutAsync(RegistryApp app, string url)
    {
        using var signer = new TestSigner();
        using var client = app.CreateClient();
        var response = await client.PostAsync("/v1/claims", Jose(signer.Sign(TestSigner.Claim([TestSigner.Url(url)], new() { ["train-ai"] = "n" }))));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private sealed class StreamConnection : IDisposable
    {
        private readonly TcpClient _socket;
        private readonly NetworkStream _stream;
        private readonly StringBuilder _received = new();

        private StreamConnection(TcpClient socket) => (_socket, _stream) = (socket, socket.GetStream());

        public static async Task<StreamConnection> OpenAsync(RegistryApp app)
        {
            var server = app.ClientOptions.BaseAddress;
            var socket = new TcpClient();
            await socket.ConnectAsync(server.Host, server.Port);
            var connection = new StreamConnection(socket);
            await connection._stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /v1/lookup/stream HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"));
            return connection;
        }

        public Task SendLineAsync(string text) => SendAsync(text + "\n");

        /// <summary>Sends <paramref name="text"/> as one chunk of the request body, as it is.</summary>
        public async Task SendAsync(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            await _stream.WriteAsync(Encoding.ASCII.GetBytes($"{bytes.Length:x}\r\n"));
            await _stream.WriteAsync(bytes);
            await _stream.WriteAsync("\r\n"u8.ToArray());
        }

        /// <summary>What the server sent until <paramref name="what"/> came (within 20 s).</summary>
        public async Task<string> ReadUntilAsync(string what)
        {
            var buffer = new byte[8192];
            using var waiting = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (!_received.ToString().Contains(what, StringComparison.Ordinal))
            {
                var read = await _stream.ReadAsync(buffer, waiting.Token);
                Assert.True(read != 0, "closed after: " + _received);
                _received.Append(Encoding.UTF8.GetString(buffer, 0, read));
            }

            return _received.ToString();
        }

        /// <summary>What the server sent until it ended its answer (the last chunk) or closed the connection, within <paramref name="within"/>.</summary>
        public async Task<string> ReadToEndAsync(TimeSpan within)
        {
            var buffer = new byte[8192];
            using var waiting = new CancellationTokenSource(within);
            while (true)
            {
                int read;
                try
                {
                    read = await _stream.ReadAsync(buffer, waiting.Token);
                }
                catch (IOException)
                {
                    read = 0; // reset by the server after its answer
                }

                if (read == 0)
                {
                    return _received.ToString();
                }

                _received.Append(Encoding.UTF8.GetString(buffer, 0, read));
                if (_received.ToString().EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal))
                {
                    return _received.ToString(); // the answer's last chunk: Kestrel closes after draining the body
                }
            }
        }

        public void Dispose()
        {
            _stream.Dispose();
            _socket.Dispose();
        }
    }
}

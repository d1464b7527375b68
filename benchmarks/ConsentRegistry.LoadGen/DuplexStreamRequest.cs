using System.Net.Sockets;
using System.Text;

namespace ConsentRegistry.LoadGen;

/// <summary>
/// One POST to /v1/lookup/stream over a raw HTTP/1.1 connection, sending the chunked body and
/// reading the chunked answer at the same time. HttpClient's HTTP/1.1 path finishes sending a body
/// before it reads the answer, which deadlocks a stream longer than the socket buffers.
/// </summary>
internal sealed class DuplexStreamRequest : IDisposable
{
    private readonly TcpClient _socket = new() { NoDelay = true };
    private NetworkStream _stream = null!;

    public static async Task<DuplexStreamRequest> StartAsync(Uri server)
    {
        var request = new DuplexStreamRequest();
        await request._socket.ConnectAsync(server.Host, server.Port);
        request._stream = request._socket.GetStream();
        await request._stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/lookup/stream HTTP/1.1\r\nHost: {server.Authority}\r\nConnection: close\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"));
        return request;
    }

    /// <summary>Sends <paramref name="block"/> as one chunk while <paramref name="repeats"/> says so (at least once), then ends the body.</summary>
    public async Task SendAsync(byte[] block, Func<bool> repeats)
    {
        var head = Encoding.ASCII.GetBytes($"{block.Length:x}\r\n");
        do
        {
            await _stream.WriteAsync(head);
            await _stream.WriteAsync(block);
            await _stream.WriteAsync("\r\n"u8.ToArray());
        }
        while (repeats());

        await _stream.WriteAsync("0\r\n\r\n"u8.ToArray());
    }

    /// <summary>Checks the status line and returns the answer body, de-chunked.</summary>
    public async Task<Stream> ReadBodyAsync()
    {
        var input = new BufferedStream(_stream, 64 * 1024);
        var status = await ReadLineAsync(input);
        if (!status.StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"stream answered {status}");
        }

        while ((await ReadLineAsync(input)).Length > 0)
        {
            // headers: the answer is chunked (no Content-Length for a stream)
        }

        return new ChunkedReadStream(input);
    }

    public void Dispose() => _socket.Dispose();

    private static async Task<string> ReadLineAsync(Stream input)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (await input.ReadAsync(one) == 1 && one[0] != '\n')
        {
            if (one[0] != '\r')
            {
                line.Append((char)one[0]);
            }
        }

        return line.ToString();
    }

    /// <summary>The data of an HTTP/1.1 chunked body.</summary>
    private sealed class ChunkedReadStream(Stream input) : Stream
    {
        private long _left;
        private bool _done;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_left == 0 && !_done)
            {
                var size = await ReadLineAsync(input);
                if (size.Length == 0)
                {
                    size = await ReadLineAsync(input); // the CRLF that ends the previous chunk
                }

                _left = Convert.ToInt64(size.Split(';')[0], 16);
                _done = _left == 0;
            }

            if (_done)
            {
                return 0;
            }

            var read = await input.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _left)], cancellationToken);
            if (read == 0)
            {
                throw new EndOfStreamException("The stream ended inside a chunk.");
            }

            _left -= read;
            return read;
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

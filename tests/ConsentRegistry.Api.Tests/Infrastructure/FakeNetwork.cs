using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using ConsentRegistry.Api.Verification;

namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>
/// The verifier's view of the internet in tests: host names resolve to whatever a test says, and
/// a connection to an address goes to the loopback port of the test server standing in for it.
/// Every connection attempt is recorded; one to an address no test server stands in for fails
/// at once, so nothing ever leaves loopback even if a guard were broken.
/// </summary>
public sealed class FakeNetwork
{
    private readonly ConcurrentDictionary<string, ConcurrentQueue<IPAddress[]>> _dns = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<IPAddress, int> _servers = new();

    public ConcurrentQueue<IPEndPoint> Connections { get; } = new();

    public ConcurrentQueue<string> Lookups { get; } = new();

    /// <summary>The bytes the verifier has read from each address's connections, however they were read (drained ones included).</summary>
    public ConcurrentDictionary<IPAddress, long> BytesRead { get; } = new();

    public X509Certificate2? TrustedCertificate { get; set; }

    /// <summary>Each lookup of <paramref name="host"/> takes the next answer; the last one repeats.</summary>
    public void AddHost(string host, params IPAddress[][] answers) => _dns[host] = new ConcurrentQueue<IPAddress[]>(answers);

    public void AddHost(string host, string address) => AddHost(host, [IPAddress.Parse(address)]);

    /// <summary>Connections to <paramref name="address"/> reach the server on loopback <paramref name="port"/>.</summary>
    public void StandIn(string address, int port) => _servers[IPAddress.Parse(address)] = port;

    /// <summary><paramref name="host"/> resolves to <paramref name="address"/>, whose connections reach loopback <paramref name="port"/>.</summary>
    public void Route(string host, string address, int port)
    {
        AddHost(host, address);
        StandIn(address, port);
    }

    /// <summary>
    /// <paramref name="host"/> resolves to 127.0.0.1 and reaches <paramref name="site"/>, which lists <paramref name="keys"/>
    /// in its well-known file: the host vouches for those parties.
    /// </summary>
    public void Publish(WellKnownServer site, string host, params string[] keys)
    {
        Route(host, "127.0.0.1", site.Port);
        site.ServeKeys(host, keys);
    }

    internal void Configure(DomainFetchOptions options)
    {
        options.ResolveAsync = (host, _) =>
        {
            Lookups.Enqueue(host);
            if (!_dns.TryGetValue(host, out var answers))
            {
                throw new SocketException((int)SocketError.HostNotFound);
            }

            var answer = answers.Count > 1 && answers.TryDequeue(out var next) ? next : answers.First();
            return Task.FromResult(answer);
        };
        options.ConnectAsync = async (endpoint, cancellationToken) =>
        {
            Connections.Enqueue(endpoint);
            if (!_servers.TryGetValue(endpoint.Address, out var port))
            {
                throw new SocketException((int)SocketError.ConnectionRefused);
            }

            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
            return new CountingStream(new NetworkStream(socket, ownsSocket: true), read => BytesRead.AddOrUpdate(endpoint.Address, read, (_, total) => total + read));
        };
        options.CertificateValidation = (_, certificate, _, _) =>
            TrustedCertificate is not null && certificate is not null && certificate.GetCertHashString() == TrustedCertificate.Thumbprint;
    }
}

/// <summary>A stream that tells <paramref name="counted"/> how many bytes each read returned.</summary>
internal sealed class CountingStream(Stream inner, Action<int> counted) : Stream
{
    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Counted(await inner.ReadAsync(buffer, cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Counted(int read)
    {
        counted(read);
        return read;
    }
}

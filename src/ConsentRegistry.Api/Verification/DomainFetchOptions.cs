using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace ConsentRegistry.Api.Verification;

/// <summary>
/// How the verifier reaches a host. Deliberately not bound from configuration: the defaults are
/// the contract (5 s in all, system DNS, a TCP connection to the vetted address, the system's
/// certificate checks). Tests replace the resolver and the connector to reach servers on loopback
/// ports and to see every connection attempt, without a test-only branch in the fetch itself.
/// </summary>
internal sealed class DomainFetchOptions
{
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Host name to addresses; IP literals never reach it.</summary>
    public Func<string, CancellationToken, Task<IPAddress[]>> ResolveAsync { get; set; } = Dns.GetHostAddressesAsync;

    /// <summary>Opens a connection to an address that has already been vetted.</summary>
    public Func<IPEndPoint, CancellationToken, ValueTask<Stream>> ConnectAsync { get; set; } = ConnectTcpAsync;

    /// <summary>Null: the system's certificate validation.</summary>
    public RemoteCertificateValidationCallback? CertificateValidation { get; set; }

    private static async ValueTask<Stream> ConnectTcpAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using ConsentRegistry.Api.Hosting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Verification;

/// <summary>
/// How the verifier reaches a host (<c>Registry:Verification:Fetch</c>). Only <see cref="Timeout"/>
/// is a setting (default 5 s, the contract); the rest are the system's DNS, a TCP connection to the
/// vetted address and the system's certificate checks, which the configuration cannot change.
/// Tests replace the resolver and the connector to reach servers on loopback ports and to see
/// every connection attempt, without a test-only branch in the fetch itself.
/// </summary>
internal sealed class DomainFetchOptions
{
    public const string Section = "Registry:Verification:Fetch";

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Host name to addresses; IP literals never reach it.</summary>
    public Func<string, CancellationToken, Task<IPAddress[]>> ResolveAsync { get; set; } = Dns.GetHostAddressesAsync;

    /// <summary>Opens a connection to an address that has already been vetted.</summary>
    public Func<IPEndPoint, CancellationToken, ValueTask<Stream>> ConnectAsync { get; set; } = ConnectTcpAsync;

    /// <summary>Null: the system's certificate validation.</summary>
    public RemoteCertificateValidationCallback? CertificateValidation { get; set; }

    /// <summary>A TCP connection to one vetted address (the image fetcher connects the same way).</summary>
    internal static async ValueTask<Stream> ConnectTcpAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
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

internal sealed class DomainFetchOptionsValidator : IValidateOptions<DomainFetchOptions>
{
    public ValidateOptionsResult Validate(string? name, DomainFetchOptions options) =>
        options.Timeout < TimeSpan.FromSeconds(1) || options.Timeout > TimeSpan.FromSeconds(30)
            ? ValidateOptionsResult.Fail($"Registry:Verification:Fetch:Timeout is {options.Timeout}; use 00:00:01 to 00:00:30 (default 00:00:05).")
            : ValidateOptionsResult.Success;
}

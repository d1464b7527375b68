using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>
/// Stands in for artists' web sites: one Kestrel server on a free 127.0.0.1 port that answers by
/// the request's Host header, so one server plays many hosts. Optionally over TLS with a
/// throwaway self-signed certificate.
/// </summary>
public sealed class WellKnownServer : IAsyncDisposable
{
    public const string DocumentPath = "/.well-known/consent-registry.json";

    private WebApplication _app = null!;
    private int _requests;

    public ConcurrentDictionary<string, RequestDelegate> Sites { get; } = new(StringComparer.OrdinalIgnoreCase);

    public int Port { get; private set; }

    /// <summary>Requests received, on every host.</summary>
    public int Requests => Volatile.Read(ref _requests);

    public static async Task<WellKnownServer> StartAsync(X509Certificate2? certificate = null)
    {
        var server = new WellKnownServer();
        (server._app, server.Port) = await LoopbackServer.StartAsync(server.HandleAsync, certificate);
        return server;
    }

    /// <summary>Serves <c>{"keys": [...]}</c> for <paramref name="host"/>.</summary>
    public void ServeKeys(string host, params string[] keys) =>
        Sites[host] = context => context.Response.WriteAsJsonAsync(new { keys });

    public void Serve(string host, RequestDelegate handler) => Sites[host] = handler;

    public static RequestDelegate Redirect(string location) => context =>
    {
        context.Response.StatusCode = StatusCodes.Status302Found;
        context.Response.Headers.Location = location;
        return Task.CompletedTask;
    };

    public static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=consent-registry-test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddDnsName("selfsigned.test"); // so a refusal of it is about trust, not a name mismatch
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }

    private Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        if (context.Request.Path != DocumentPath || !Sites.TryGetValue(context.Request.Host.Host, out var site))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        return site(context);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

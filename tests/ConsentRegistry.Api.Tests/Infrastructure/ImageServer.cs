using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>
/// Stands in for the sites that host claimed images: one Kestrel server on a free loopback port
/// that answers each path with its handler (404 for the rest) and records what it was asked.
/// </summary>
public sealed class ImageServer : IAsyncDisposable
{
    private WebApplication _app = null!;
    private int _inFlight;
    private int _maxInFlight;

    public ConcurrentDictionary<string, RequestDelegate> Paths { get; } = new(StringComparer.Ordinal);

    /// <summary>Requests received per path.</summary>
    public ConcurrentDictionary<string, int> Requests { get; } = new(StringComparer.Ordinal);

    /// <summary>The User-Agent of every request.</summary>
    public ConcurrentQueue<string> UserAgents { get; } = new();

    /// <summary>The most requests that were ever in flight at once.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public int Port { get; private set; }

    /// <summary>The loopback address the server listens on (127.0.0.1 unless another host is wanted).</summary>
    public System.Net.IPAddress Address { get; private set; } = System.Net.IPAddress.Loopback;

    public static async Task<ImageServer> StartAsync(System.Net.IPAddress? address = null)
    {
        var server = new ImageServer { Address = address ?? System.Net.IPAddress.Loopback };
        (server._app, server.Port) = await LoopbackServer.StartAsync(server.HandleAsync, address: server.Address);
        return server;
    }

    /// <summary>The URL of <paramref name="path"/> on this server, as a claim names it.</summary>
    public string Url(string path) => $"http://{Address}:{Port}{path}";

    /// <summary>Serves <paramref name="bytes"/> at <paramref name="path"/> as <paramref name="mediaType"/>.</summary>
    public void Serve(string path, byte[] bytes, string mediaType = "image/jpeg") => Paths[path] = context =>
    {
        context.Response.ContentType = mediaType;
        return context.Response.Body.WriteAsync(bytes).AsTask();
    };

    public int RequestsFor(string path) => Requests.GetValueOrDefault(path);

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        Requests.AddOrUpdate(path, 1, (_, n) => n + 1);
        UserAgents.Enqueue(context.Request.Headers.UserAgent.ToString());
        var now = Interlocked.Increment(ref _inFlight);
        for (var max = MaxInFlight; now > max && Interlocked.CompareExchange(ref _maxInFlight, now, max) != max; max = MaxInFlight)
        {
        }

        try
        {
            if (Paths.TryGetValue(path, out var handler))
            {
                await handler(context);
            }
            else
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

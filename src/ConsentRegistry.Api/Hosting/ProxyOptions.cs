using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Hosting;

/// <summary>
/// <c>Registry:Proxy</c>: the reverse proxies (load balancers, TLS terminators) whose
/// <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> are believed. Behind a proxy every request
/// comes from the proxy's address, so without this every per-address budget (writes, lookups,
/// images, verification, unknown keys, /metrics) is one budget shared by all clients, and the
/// sign-in sees http where the client used https. Headers from any other peer change nothing.
/// </summary>
public sealed class ProxyOptions
{
    public const string Section = "Registry:Proxy";

    /// <summary>CIDR networks of the proxies; none by default (the peer is the client).</summary>
    public string[]? TrustedNetworks { get; set; }
}

internal sealed class ProxyOptionsValidator : IValidateOptions<ProxyOptions>
{
    public ValidateOptionsResult Validate(string? name, ProxyOptions options)
    {
        var failures = new List<string>();
        var networks = options.TrustedNetworks ?? [];
        for (var i = 0; i < networks.Length; i++)
        {
            if (!Networks.TryParse(networks[i], out _))
            {
                failures.Add($"{ProxyOptions.Section}:TrustedNetworks:{i} is '{networks[i]}', not a network in CIDR form. " + Networks.Help);
            }
        }

        return failures.Result();
    }
}

internal static class ForwardedClients
{
    /// <summary>
    /// Believes X-Forwarded-For and X-Forwarded-Proto from the trusted proxies only, through a chain
    /// of them (each hop's address is checked before the next one is read); first in the pipeline,
    /// so that every limit and the sign-in see the client. Nothing when no proxy is configured.
    /// </summary>
    public static WebApplication UseForwardedClients(this WebApplication app)
    {
        var networks = app.Services.GetRequiredService<IOptions<ProxyOptions>>().Value.TrustedNetworks ?? [];
        if (networks.Length == 0)
        {
            return app;
        }

        var options = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto,
            ForwardLimit = null, // as many hops as come from trusted proxies
        };
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        foreach (var text in networks)
        {
            Networks.TryParse(text, out var network);
            options.KnownIPNetworks.Add(network);
        }

        app.UseForwardedHeaders(options);
        return app;
    }
}

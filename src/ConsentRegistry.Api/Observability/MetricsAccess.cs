using System.Net;
using ConsentRegistry.Api.Auth;
using ConsentRegistry.Api.Hosting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Observability;

/// <summary>
/// Who may scrape /metrics: a client whose address is in <see cref="MetricsOptions.AllowedNetworks"/>,
/// or anyone who passes the admin policy (<see cref="Policies.Admin"/>: an admin API key, or the
/// Entra ID admin role). Others get 401 (no credentials) or 403 (credentials, but not an admin's).
/// </summary>
public sealed class MetricsAccess(IOptions<MetricsOptions> options)
{
    public const string Policy = "metrics";

    private readonly IPNetwork[] _networks = options.Value.EffectiveNetworks
        .Select(text => Networks.TryParse(text, out var network) ? network : throw new OptionsValidationException(
            MetricsOptions.Section, typeof(MetricsOptions), [$"'{text}' is not a network in CIDR form."]))
        .ToArray();

    /// <summary>
    /// <paramref name="address"/> is the client as the app sees it: the connection's peer, or the
    /// address a proxy in <see cref="ProxyOptions.TrustedNetworks"/> forwarded (docs/metrics.md).
    /// </summary>
    public bool AllowsWithoutCredentials(IPAddress? address)
    {
        if (address is null)
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4(); // a dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d
        }

        foreach (var network in _networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}

internal sealed class MetricsAccessRequirement : IAuthorizationRequirement;

internal sealed class MetricsAccessHandler(MetricsAccess access) : AuthorizationHandler<MetricsAccessRequirement>
{
    protected override async Task HandleRequirementAsync(AuthorizationHandlerContext context, MetricsAccessRequirement requirement)
    {
        if (context.Resource is not HttpContext http)
        {
            return;
        }

        if (access.AllowsWithoutCredentials(http.Connection.RemoteIpAddress))
        {
            context.Succeed(requirement);
            return;
        }

        // Resolved per request: the authorization service depends on every handler, this one included.
        var authorization = http.RequestServices.GetRequiredService<IAuthorizationService>();
        if ((await authorization.AuthorizeAsync(context.User, http, Policies.Admin)).Succeeded)
        {
            context.Succeed(requirement);
        }
    }
}

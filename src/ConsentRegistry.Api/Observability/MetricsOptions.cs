using System.Net;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Observability;

/// <summary>The <c>Registry:Metrics</c> configuration section: the <c>/metrics</c> endpoint.</summary>
public sealed class MetricsOptions
{
    public const string Section = "Registry:Metrics";

    public const string Path = "/metrics";

    /// <summary>Who may scrape without the admin key when <see cref="AllowedNetworks"/> is not set: this machine only.</summary>
    public static readonly IReadOnlyList<string> LoopbackNetworks = ["127.0.0.0/8", "::1/128"];

    /// <summary>False: no OpenTelemetry metrics pipeline and no /metrics endpoint (404).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Networks (CIDR) whose clients may scrape without credentials; others need an admin key. Null
    /// (not configured) means <see cref="LoopbackNetworks"/>. The default lives outside the
    /// property because the configuration binder appends a configured list to an initial one.
    /// </summary>
    public string[]? AllowedNetworks { get; set; }

    public IReadOnlyList<string> EffectiveNetworks => AllowedNetworks ?? LoopbackNetworks;

    /// <summary>
    /// Parses one CIDR network strictly: <see cref="IPNetwork.TryParse(string, out IPNetwork)"/>
    /// quietly clears host bits (10.0.0.7/8 becomes all of 10.0.0.0/8), which would open far more
    /// than the operator meant to, so a network written with host bits set is refused here.
    /// </summary>
    public static bool TryParseNetwork(string? text, out IPNetwork network)
    {
        network = default;
        if (text is null || !IPNetwork.TryParse(text, out var parsed))
        {
            return false;
        }

        var address = text.AsSpan(0, text.IndexOf('/'));
        if (!IPAddress.TryParse(address, out var written) || !written.Equals(parsed.BaseAddress))
        {
            return false;
        }

        network = parsed;
        return true;
    }
}

internal sealed class MetricsOptionsValidator : IValidateOptions<MetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, MetricsOptions options)
    {
        var failures = new List<string>();
        var networks = options.EffectiveNetworks;
        for (var i = 0; i < networks.Count; i++)
        {
            if (!MetricsOptions.TryParseNetwork(networks[i], out _))
            {
                failures.Add($"{MetricsOptions.Section}:AllowedNetworks:{i} is '{networks[i]}', not a network in CIDR form. "
                    + "Write the network's first address and its prefix length, e.g. 10.0.0.0/8, 192.168.1.0/24 or fd00::/8 "
                    + "(10.0.0.7/8 is refused: it has host bits set); one address alone is 10.0.0.7/32 or 2001:db8::7/128. "
                    + "An empty list ([]) lets only admin credentials scrape.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

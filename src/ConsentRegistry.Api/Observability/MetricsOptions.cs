using ConsentRegistry.Api.Hosting;
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
}

internal sealed class MetricsOptionsValidator : IValidateOptions<MetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, MetricsOptions options)
    {
        var failures = new List<string>();
        var networks = options.EffectiveNetworks;
        for (var i = 0; i < networks.Count; i++)
        {
            if (!Networks.TryParse(networks[i], out _))
            {
                failures.Add($"{MetricsOptions.Section}:AllowedNetworks:{i} is '{networks[i]}', not a network in CIDR form. "
                    + Networks.Help + " An empty list ([]) lets only admin credentials scrape.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

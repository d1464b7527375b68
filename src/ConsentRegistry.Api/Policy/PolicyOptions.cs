using ConsentRegistry.Api.Hosting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Policy;

/// <summary><c>Registry:Policy</c>: how often a host's crawler documents may be rebuilt, and how long a first request waits for one.</summary>
public sealed class PolicyOptions
{
    public const string Section = "Registry:Policy";

    /// <summary>
    /// A host's document is rebuilt at most this often; meanwhile the last one is served with its
    /// own ETag (stale while it revalidates), so a claim flood on a host cannot keep the registry
    /// rendering. Renders run one at a time across hosts.
    /// </summary>
    public TimeSpan MinRenderInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a request for a host with no document yet waits for its first render; past that it
    /// gets 503 with Retry-After (RFC 9309: crawlers then keep out of the whole host) while the render goes on.
    /// </summary>
    public TimeSpan FirstRenderWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a request that finds the host changed (and its interval over) waits for the new
    /// render before it gets the last document; 0 (the default): never, the render goes on behind it.
    /// </summary>
    public TimeSpan RevalidateWait { get; set; } = TimeSpan.Zero;

    /// <summary>The most (subject, party) entries one render holds before it merges paths (<see cref="HostSubjectFold"/>).</summary>
    public int MaxRenderEntries { get; set; } = HostSubjectFold.DefaultMaxEntries;
}

internal sealed class PolicyOptionsValidator : IValidateOptions<PolicyOptions>
{
    public ValidateOptionsResult Validate(string? name, PolicyOptions options)
    {
        var failures = new List<string>();
        if (options.MinRenderInterval < TimeSpan.Zero || options.MinRenderInterval > TimeSpan.FromHours(1))
        {
            failures.Add($"{PolicyOptions.Section}:MinRenderInterval is {options.MinRenderInterval}; use 0 to 1 hour.");
        }

        if (options.FirstRenderWait < TimeSpan.Zero || options.FirstRenderWait > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{PolicyOptions.Section}:FirstRenderWait is {options.FirstRenderWait}; use 0 to 1 minute.");
        }

        if (options.RevalidateWait < TimeSpan.Zero || options.RevalidateWait > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{PolicyOptions.Section}:RevalidateWait is {options.RevalidateWait}; use 0 to 1 minute.");
        }

        if (options.MaxRenderEntries is < 1_000 or > 10_000_000)
        {
            failures.Add($"{PolicyOptions.Section}:MaxRenderEntries is {options.MaxRenderEntries}; use 1,000 to 10,000,000.");
        }

        return failures.Result();
    }
}

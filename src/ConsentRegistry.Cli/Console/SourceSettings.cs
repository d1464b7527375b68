using System.ComponentModel;
using ConsentRegistry.Cli.Deciding;
using ConsentRegistry.Core.Claims;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsentRegistry.Cli.Console;

/// <summary>Options of the commands that decide rows: a registry over HTTP, or a snapshot file.</summary>
public class SourceSettings : CommonSettings
{
    [CommandOption("--registry <URL>")]
    [Description("Decide online, against the registry at this URL (batches of its bulk lookup, POST /v1/lookup).")]
    public string? Registry { get; init; }

    [CommandOption("--api-key <KEY>")]
    [Description("An API key for the registry (sent as 'Authorization: API <key>'); default: the CONSENT_REGISTRY_API_KEY environment variable.")]
    public string? ApiKey { get; init; }

    [CommandOption("--snapshot <FILE>")]
    [Description("Decide offline, from an index snapshot (a file from 'snapshot pull', or a snapshot folder): no network.")]
    public string? Snapshot { get; init; }

    [CommandOption("--in-flight <N>")]
    [Description("With --registry: requests in flight at once.")]
    [DefaultValue(4)]
    public int InFlight { get; init; } = 4;

    [CommandOption("--chunk-rows <N>")]
    [Description("With --registry: rows per request (at most the registry's Registry:Lookup:MaxBatch, 10,000 unless its operator changed it).")]
    [DefaultValue(10_000)]
    public int ChunkRows { get; init; } = 10_000;

    [CommandOption("--min-trust-for-grants <LEVEL>")]
    [Description("With --snapshot: the trust at which a consent ('y') counts, as the registry's Registry:Trust:MinTrustForGrants (signed, domain, reviewed).")]
    [DefaultValue("domain")]
    public string MinTrustForGrants { get; init; } = "domain";

    public override ValidationResult Validate()
    {
        if ((Registry is null) == (Snapshot is null))
        {
            return ValidationResult.Error("Name exactly one of --registry <URL> (online) and --snapshot <FILE> (offline).");
        }

        if (Registry is not null && !(Uri.TryCreate(Registry, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            return ValidationResult.Error($"--registry {Registry} is not an http(s) URL.");
        }

        if (InFlight is < 1 or > 64 || ChunkRows is < 1 or > 1_000_000)
        {
            return ValidationResult.Error("--in-flight is 1 to 64 and --chunk-rows 1 to 1,000,000.");
        }

        if (!TrustLevel.TryParse(MinTrustForGrants, out _))
        {
            return ValidationResult.Error($"--min-trust-for-grants {MinTrustForGrants} is not a trust level.");
        }

        return ValidationResult.Success();
    }

    public async Task<IRegistrySource> OpenSourceAsync(Action<string> note, CancellationToken cancellationToken)
    {
        if (Snapshot is not null)
        {
            TrustLevel.TryParse(MinTrustForGrants, out var trust);
            return SnapshotSource.Open(Snapshot, trust);
        }

        var registry = new Uri(Registry!.EndsWith('/') ? Registry : Registry + "/");
        var key = ApiKey ?? Environment.GetEnvironmentVariable("CONSENT_REGISTRY_API_KEY");
        return await RegistrySource.ConnectAsync(registry, key, ChunkRows, InFlight, note, cancellationToken);
    }
}

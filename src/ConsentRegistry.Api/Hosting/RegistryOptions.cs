using ConsentRegistry.Core.Claims;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Hosting;

/// <summary>The <c>Registry</c> configuration section (DESIGN.md 4).</summary>
public sealed class RegistryOptions
{
    public const string Section = "Registry";

    public DatabaseOptions Database { get; set; } = new();

    public AuthOptions Auth { get; set; } = new();

    public LookupOptions Lookup { get; set; } = new();

    public MatchingOptions Matching { get; set; } = new();

    public TrustOptions Trust { get; set; } = new();

    public VerificationOptions Verification { get; set; } = new();

    public FormOptions Form { get; set; } = new();
}

public sealed class DatabaseOptions
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";
    public const string DefaultSqliteConnectionString = "Data Source=data/registry.db";

    public string Provider { get; set; } = Sqlite;

    public string? ConnectionString { get; set; }

    public bool IsPostgres => string.Equals(Provider, Postgres, StringComparison.OrdinalIgnoreCase);
}

public sealed class AuthOptions
{
    /// <summary>A bootstrap admin API key; it can create further keys.</summary>
    public string? AdminKey { get; set; }

    /// <summary>The Entra ID app role that grants admin rights to bearer tokens.</summary>
    public string AdminRole { get; set; } = "Registry.Admin";
}

public sealed class LookupOptions
{
    public bool AllowAnonymous { get; set; } = true;

    public int MaxBatch { get; set; } = 10_000;

    /// <summary>Lookup requests per second for one API key (a bulk request counts once).</summary>
    public int RequestsPerSecondPerKey { get; set; } = 200;

    /// <summary>Lookup requests per second for one client address without a key.</summary>
    public int RequestsPerSecondPerAddress { get; set; } = 50;
}

public sealed class MatchingOptions
{
    public int PdqMaxDistance { get; set; } = 31;
}

public sealed class TrustOptions
{
    public string MinTrustForGrants { get; set; } = "domain";
}

public sealed class VerificationOptions
{
    public bool AllowInsecureHttp { get; set; }

    public bool AllowPrivateAddresses { get; set; }

    /// <summary>How often each verified host's file is fetched again (docs/domain-verification.md).</summary>
    public TimeSpan RecheckInterval { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Verification requests per minute for one client address: each makes the registry fetch from the internet.</summary>
    public int RequestsPerMinutePerAddress { get; set; } = 10;

    /// <summary>Verified hosts one party may hold: each is re-checked, and anyone can ask to verify any party on any host that lists its key.</summary>
    public int MaxHostsPerParty { get; set; } = 100;
}

/// <summary>The artist web form (src/ConsentRegistry.Api/Artists, docs/web-form.md).</summary>
public sealed class FormOptions
{
    /// <summary>Require an Entra ID sign-in (OpenID Connect, section AzureAd) before the form pages are served.</summary>
    public bool RequireSignIn { get; set; }
}

/// <summary>Checks the options at start-up and says how to fix what is wrong.</summary>
internal sealed class RegistryOptionsValidator(IConfiguration configuration) : IValidateOptions<RegistryOptions>
{
    public ValidateOptionsResult Validate(string? name, RegistryOptions options)
    {
        var failures = new List<string>();
        var database = options.Database;
        if (!database.IsPostgres && !string.Equals(database.Provider, DatabaseOptions.Sqlite, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"Registry:Database:Provider is '{database.Provider}'; set it to 'sqlite' (the default) or 'postgres'.");
        }

        if (database.IsPostgres && string.IsNullOrWhiteSpace(database.ConnectionString))
        {
            failures.Add("Registry:Database:Provider is 'postgres' but Registry:Database:ConnectionString is empty; "
                + "set it, e.g. Registry__Database__ConnectionString='Host=localhost;Database=registry;Username=registry;Password=…'.");
        }

        if (options.Auth.AdminKey is { Length: > 0 and < 16 })
        {
            failures.Add("Registry:Auth:AdminKey is shorter than 16 characters; use a long random value (e.g. `openssl rand -base64 32`).");
        }

        if (options.Lookup.MaxBatch is < 1 or > 100_000)
        {
            failures.Add($"Registry:Lookup:MaxBatch is {options.Lookup.MaxBatch}; use 1 to 100000.");
        }

        if (options.Lookup.RequestsPerSecondPerKey < 1 || options.Lookup.RequestsPerSecondPerAddress < 1)
        {
            failures.Add("Registry:Lookup:RequestsPerSecondPerKey and RequestsPerSecondPerAddress must be 1 or more.");
        }

        if (options.Matching.PdqMaxDistance is < 0 or > 63)
        {
            failures.Add($"Registry:Matching:PdqMaxDistance is {options.Matching.PdqMaxDistance}; use 0 to 63.");
        }

        if (!TrustLevels.TryParse(options.Trust.MinTrustForGrants, out _))
        {
            failures.Add($"Registry:Trust:MinTrustForGrants is '{options.Trust.MinTrustForGrants}'; use signed, domain or reviewed.");
        }

        var verification = options.Verification;
        if (verification.RecheckInterval < TimeSpan.FromMinutes(1) || verification.RecheckInterval > TimeSpan.FromDays(30))
        {
            failures.Add($"Registry:Verification:RecheckInterval is {verification.RecheckInterval}; use 00:01:00 to 30.00:00:00 (d.hh:mm:ss), e.g. 1.00:00:00 for daily.");
        }

        if (verification.RequestsPerMinutePerAddress < 1)
        {
            failures.Add("Registry:Verification:RequestsPerMinutePerAddress must be 1 or more.");
        }

        if (verification.MaxHostsPerParty is < 1 or > 10_000)
        {
            failures.Add($"Registry:Verification:MaxHostsPerParty is {verification.MaxHostsPerParty}; use 1 to 10000 (default 100).");
        }

        if (options.Form.RequireSignIn && !Artists.ArtistSignIn.IsConfigured(configuration))
        {
            failures.Add("Registry:Form:RequireSignIn is true but the AzureAd section is missing or incomplete, so nobody could sign in to the artist pages. "
                + "Register the app in Microsoft Entra ID (redirect URI https://<your host>/signin-oidc) and set AzureAd:ClientId and AzureAd:TenantId "
                + "(AzureAd:Instance too outside the public cloud), e.g. AzureAd__ClientId=<application id> AzureAd__TenantId=<tenant id>; "
                + "or set Registry:Form:RequireSignIn=false to serve the pages without sign-in.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

using ConsentRegistry.Api.Hosting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Storage;

/// <summary><c>Registry:Database</c>: which store, and where.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Registry:Database";
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";
    public const string DefaultSqliteConnectionString = "Data Source=data/registry.db";

    public string Provider { get; set; } = Sqlite;

    /// <summary>
    /// None by default: SQLite then uses <see cref="DefaultSqliteConnectionString"/>, and PostgreSQL
    /// is refused with a message that says to set one. appsettings.json must not supply it either,
    /// or a PostgreSQL start without one gets the SQLite string and fails inside Npgsql instead.
    /// </summary>
    public string? ConnectionString { get; set; }

    public bool IsPostgres => string.Equals(Provider, Postgres, StringComparison.OrdinalIgnoreCase);
}

internal sealed class DatabaseOptionsValidator : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        var failures = new List<string>();
        if (!options.IsPostgres && !string.Equals(options.Provider, DatabaseOptions.Sqlite, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"Registry:Database:Provider is '{options.Provider}'; set it to 'sqlite' (the default) or 'postgres'.");
        }

        if (options.IsPostgres && string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add("Registry:Database:Provider is 'postgres' but Registry:Database:ConnectionString is empty; "
                + "set it, e.g. Registry__Database__ConnectionString='Host=localhost;Database=registry;Username=registry;Password=…'.");
        }

        return failures.Result();
    }
}

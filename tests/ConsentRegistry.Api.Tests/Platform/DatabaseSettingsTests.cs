using ConsentRegistry.Api.Tests.Cli;
using ConsentRegistry.Api.Tests.Infrastructure;

namespace ConsentRegistry.Api.Tests.Platform;

/// <summary>
/// The shipped settings file with only the provider switched to PostgreSQL: the start must stop
/// with the validator's message, not with Npgsql's "Keyword not supported: 'data source'" on a
/// SQLite connection string the settings file supplied.
/// </summary>
public sealed class DatabaseSettingsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("registry-settings-").FullName;

    [Fact]
    public async Task Postgres_without_a_connection_string_stops_the_start_with_a_message_that_says_to_set_one()
    {
        // The worker reads the API's appsettings.json from beside its binaries, as it ships.
        var (exit, output, errors) = await CliRun.RunProgramAsync(
            "dotnet", [Path.Combine(AppContext.BaseDirectory, ServiceProcess.Worker)], TimeSpan.FromMinutes(1), _directory,
            new Dictionary<string, string> { ["Registry__Database__Provider"] = "postgres", ["Registry__Worker__Enabled"] = "false" });

        Assert.NotEqual(0, exit);
        var said = output + errors;
        Assert.Contains("Registry:Database:Provider is 'postgres' but Registry:Database:ConnectionString is empty", said);
        Assert.DoesNotContain("Keyword not supported", said);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}

using ConsentRegistry.Api.Fingerprints;
using ConsentRegistry.Api.Health;
using ConsentRegistry.Api.Hosting;

namespace ConsentRegistry.Worker;

/// <summary>
/// <c>dotnet run --project src/ConsentRegistry.Worker</c>: the fingerprint worker on its own, with
/// /health/live, /health/ready and /metrics (default <see cref="WorkerProcess.DefaultUrl"/>).
/// </summary>
internal static class WorkerProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args is [HealthProbe.Argument, ..])
        {
            return await HealthProbe.RunAsync(args.Length > 1 ? args : [args[0], $"{WorkerProcess.DefaultUrl}/health/ready"]);
        }

        // The content root is beside the binaries, where the build puts the API's appsettings.json:
        // the worker reads the same settings file (and environment variables) as the API.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.AddRegistryWorker();

        var app = builder.Build();
        app.MapRegistryWorker();

        await app.MigrateRegistryDatabaseAsync();
        await app.RunAsync();
        return 0;
    }
}

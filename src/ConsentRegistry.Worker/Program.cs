using ConsentRegistry.Api.Fingerprints;
using ConsentRegistry.Api.Health;
using ConsentRegistry.Api.Hosting;

if (args is [HealthProbe.Argument, ..])
{
    return await HealthProbe.RunAsync(args.Length > 1 ? args : [args[0], $"{WorkerProcess.DefaultUrl}/health/ready"]);
}

var builder = WebApplication.CreateBuilder(args);
builder.AddRegistryWorker();

var app = builder.Build();
app.MapRegistryWorker();

await app.MigrateRegistryDatabaseAsync();
await app.RunAsync();
return 0;

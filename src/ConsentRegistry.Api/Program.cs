using ConsentRegistry.Api.Admin;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Health;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Images;
using ConsentRegistry.Api.Lookup;

if (args is [HealthProbe.Argument, ..])
{
    return await HealthProbe.RunAsync(args);
}

var builder = WebApplication.CreateBuilder(args);
builder.AddRegistry();

var app = builder.Build();
app.UseRegistry();
app.MapRegistryOpenApi();
app.MapHealth();
app.MapClaims();
app.MapAdmin();
app.MapLookup();
app.MapImages();

await app.MigrateRegistryDatabaseAsync();
await app.RunAsync();
return 0;

/// <summary>The entry point, visible to the API tests' WebApplicationFactory.</summary>
public partial class Program;

using ConsentRegistry.Api.Admin;
using ConsentRegistry.Api.Artists;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Health;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Images;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Api.Policy;
using ConsentRegistry.Api.Snapshots;
using ConsentRegistry.Api.Verification;

if (args is [HealthProbe.Argument, ..])
{
    return await HealthProbe.RunAsync(args);
}

var builder = WebApplication.CreateBuilder(args);
builder.AddRegistry();
builder.AddRegistryMetrics();

var app = builder.Build();
app.UseRegistry();
app.MapRegistryOpenApi();
app.MapHealth();
app.MapRegistryMetrics();
app.MapClaims();
app.MapAdmin();
app.MapLookup();
app.MapImages();
app.MapDomainVerification();
app.MapPolicy();
app.MapArtistPages();
app.MapRegistryKey();
app.MapSnapshots();

await app.MigrateRegistryDatabaseAsync();
await app.RunAsync();
return 0;

/// <summary>The entry point, visible to the API tests' WebApplicationFactory.</summary>
public partial class Program;

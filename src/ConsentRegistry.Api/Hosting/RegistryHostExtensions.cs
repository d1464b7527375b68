using ConsentRegistry.Api.Artists;
using ConsentRegistry.Api.Auth;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Fingerprints;
using ConsentRegistry.Api.Health;
using ConsentRegistry.Api.Images;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Api.Policy;
using ConsentRegistry.Api.Snapshots;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Verification;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using Dapper;
using FluentValidation;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ConsentRegistry.Api.Hosting;

public static class RegistryHostExtensions
{
    public const long DefaultMaxRequestBodyBytes = 1024 * 1024;

    /// <summary>Everything the registry needs: options, store, log writer, auth, errors, health, OpenAPI.</summary>
    public static WebApplicationBuilder AddRegistry(this WebApplicationBuilder builder)
    {
        var services = builder.Services;

        services.AddRegistryStore();
        services.AddRegistryOptions<AuthOptions, AuthOptionsValidator>(AuthOptions.Section);
        services.AddRegistryOptions<ProxyOptions, ProxyOptionsValidator>(ProxyOptions.Section);
        services.AddRegistryOptions<LookupOptions, LookupOptionsValidator>(LookupOptions.Section);
        services.AddRegistryOptions<MatchingOptions, MatchingOptionsValidator>(MatchingOptions.Section);
        services.AddRegistryOptions<TrustOptions, TrustOptionsValidator>(TrustOptions.Section);
        services.AddRegistryOptions<FormOptions, FormOptionsValidator>(FormOptions.Section);
        services.AddRegistryOptions<WriteBudgetOptions, WriteBudgetOptionsValidator>(WriteBudgetOptions.Section);
        services.AddRegistryOptions<PolicyOptions, PolicyOptionsValidator>(PolicyOptions.Section);
        services.AddRegistryKey();
        services.AddSnapshots();

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Small by default; endpoints that take more say so with RequestSizeLimit metadata, which routing applies.
            kestrel.Limits.MaxRequestBodySize = DefaultMaxRequestBodyBytes;
            RequestHeadLimits.Configure(kestrel.Limits);
            kestrel.AddServerHeader = false;
        });
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(options => options.SerializerOptions.MaxDepth = 32);

        services.AddSingleton<ClaimWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<ClaimWriter>());
        services.AddSingleton<ClaimVerifier>();
        services.AddSingleton<PartyStanding>();
        services.AddSingleton<WriteBudgets>();
        services.AddSingleton<LargeClaimGate>();
        services.AddSingleton(sp => new SharedMatchingIndex(
            VectorIndexes.Settings(sp.GetRequiredService<IOptions<MatchingOptions>>().Value.VectorIndex)));
        services.AddSingleton<LogReader>();
        services.AddSingleton<IndexUpdater>();
        services.AddSingleton<ICommittedLogListener>(sp => sp.GetRequiredService<IndexUpdater>());
        services.AddHostedService(sp => sp.GetRequiredService<IndexUpdater>());
        services.AddSingleton<LookupEngine>();
        services.AddSingleton<ImageSearchPacing>();
        services.AddSingleton<HostPolicyDocuments>();
        services.AddSingleton<NearDuplicateStore>();
        services.AddSingleton(sp => new NearDuplicateSearch(
            sp.GetRequiredService<SharedMatchingIndex>(),
            sp.GetRequiredService<IOptions<MatchingOptions>>().Value.PdqMaxDistance,
            sp.GetRequiredService<IOptions<MatchingOptions>>().Value.EmbeddingMinSimilarity));
        services.AddHostedService<NearDuplicateRecorder>();
        services.AddLookupRateLimits();
        services.AddClaimRateLimits();
        services.AddImageHashing();
        services.AddFingerprinting();
        services.AddDomainVerification();
        services.AddSingleton<ApiKeyStore>();
        services.AddMemoryCache(options => options.SizeLimit = 100_000);
        services.AddValidatorsFromAssemblyContaining<ValidationFilter<object>>(ServiceLifetime.Singleton);

        builder.AddRegistryAuth();
        builder.AddArtistSignIn();
        services.AddRegistryProblemDetails();
        services.AddRegistryHealthChecks();
        services.AddRegistryOpenApi();
        return builder;
    }

    /// <summary>The store (SQLite or PostgreSQL, <c>Registry:Database</c>) and the SQL of its log: what the API and the worker process share.</summary>
    public static IServiceCollection AddRegistryStore(this IServiceCollection services)
    {
        services.AddRegistryOptions<DatabaseOptions, DatabaseOptionsValidator>(DatabaseOptions.Section);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<RegistryDatabase>(CreateDatabase);
        services.AddSingleton<ClaimStore>();
        services.AddSingleton<ClaimLogStore>();
        return services;
    }

    /// <summary>Error handling, body limits and auth, in the order they must run.</summary>
    public static WebApplication UseRegistry(this WebApplication app)
    {
        app.UseForwardedClients();
        app.UseRegistryErrorHandling();
        app.UseRequestHeadLimits();
        app.UseHeadAsGet();
        app.UseRouting();
        app.UseHeadWhereDeclared();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseSingleQueryValues();
        app.UseRateLimiter();
        return app;
    }

    /// <summary>Applies pending migrations before the host starts serving.</summary>
    public static async Task MigrateRegistryDatabaseAsync(this WebApplication app)
    {
        var database = app.Services.GetRequiredService<RegistryDatabase>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ConsentRegistry.Migrations");
        logger.LogInformation("Using the {Provider} store", database.Provider);
        await database.MigrateAsync(logger, app.Lifetime.ApplicationStopping);
        await database.WarmAsync(app.Lifetime.ApplicationStopping);
    }

    private static RegistryDatabase CreateDatabase(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        if (options.IsPostgres)
        {
            var builder = new NpgsqlDataSourceBuilder(options.ConnectionString).UseLoggerFactory(services.GetRequiredService<ILoggerFactory>());
            if (builder.ConnectionStringBuilder.MinPoolSize == 0)
            {
                builder.ConnectionStringBuilder.MinPoolSize = Math.Min(PostgresDatabase.DefaultMinPoolSize, builder.ConnectionStringBuilder.MaxPoolSize);
            }

            return new PostgresDatabase(builder.Build(), options.ConnectionString!);
        }

        return new SqliteDatabase(string.IsNullOrWhiteSpace(options.ConnectionString)
            ? DatabaseOptions.DefaultSqliteConnectionString
            : options.ConnectionString);
    }
}

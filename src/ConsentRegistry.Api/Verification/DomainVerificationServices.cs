using ConsentRegistry.Api.Storage;

namespace ConsentRegistry.Api.Verification;

public static class DomainVerificationServices
{
    /// <summary>The verifier, its store and fetcher, the re-check service, the log writer's domain-trust judge and the rate limit.</summary>
    public static IServiceCollection AddDomainVerification(this IServiceCollection services)
    {
        services.AddOptions<DomainFetchOptions>();
        services.AddSingleton<DomainVerificationStore>();
        services.AddSingleton<WellKnownFetcher>();
        services.AddSingleton<DomainVerifier>();
        services.AddSingleton<DomainRechecks>();
        services.AddSingleton<IClaimIntakeTrust, DomainIntakeTrust>();
        services.AddHostedService<DomainRecheckService>();
        services.AddVerificationRateLimit();
        return services;
    }
}

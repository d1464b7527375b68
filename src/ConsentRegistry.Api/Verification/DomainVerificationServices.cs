using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Hosting;

namespace ConsentRegistry.Api.Verification;

public static class DomainVerificationServices
{
    /// <summary>The verifier, its store and fetcher, the re-check service, the log writer's domain-trust judge and the rate limit.</summary>
    public static IServiceCollection AddDomainVerification(this IServiceCollection services)
    {
        services.AddRegistryOptions<VerificationOptions, VerificationOptionsValidator>(VerificationOptions.Section);
        services.AddRegistryOptions<DomainFetchOptions, DomainFetchOptionsValidator>(DomainFetchOptions.Section);
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

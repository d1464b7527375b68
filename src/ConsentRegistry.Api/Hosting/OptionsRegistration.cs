using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Hosting;

public static class OptionsRegistration
{
    /// <summary>
    /// Binds one concern's section (e.g. <c>Registry:Lookup</c>) and checks it at start-up, so a
    /// bad setting stops the host with the validator's message instead of failing a request later.
    /// </summary>
    public static OptionsBuilder<TOptions> AddRegistryOptions<TOptions, TValidator>(this IServiceCollection services, string section)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        services.AddSingleton<IValidateOptions<TOptions>, TValidator>();
        return services.AddOptions<TOptions>().BindConfiguration(section).ValidateOnStart();
    }

    /// <summary>Success, or one failure listing every message.</summary>
    public static ValidateOptionsResult Result(this List<string> failures) =>
        failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
}

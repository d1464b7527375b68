using System.Reflection;

namespace ConsentRegistry.Cli;

internal static class CliVersion
{
    /// <summary>The tool's version (the package's), without the source revision suffix.</summary>
    public static string Current { get; } =
        (typeof(CliVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];
}

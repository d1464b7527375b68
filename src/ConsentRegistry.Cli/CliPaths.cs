namespace ConsentRegistry.Cli;

/// <summary>Paths as the commands compare and name them.</summary>
internal static class CliPaths
{
    /// <summary>
    /// <paramref name="path"/> absolute, without <c>.</c> and <c>..</c> segments and without a
    /// separator at its end: <c>data/</c> and <c>data</c> are one folder, and the name of
    /// <c>images/00000/</c> is <c>00000</c>.
    /// </summary>
    public static string Full(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
}

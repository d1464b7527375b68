namespace ConsentRegistry.Api.Tests.Infrastructure;

public static class RepositoryPaths
{
    /// <summary>The repository root: the nearest ancestor of the test binaries holding ConsentRegistry.sln.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ConsentRegistry.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No ConsentRegistry.sln above {AppContext.BaseDirectory}.");
    }
}

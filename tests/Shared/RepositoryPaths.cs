namespace ConsentRegistry.TestSupport;

/// <summary>
/// Where the tests find the repository's own files: the repository root (the nearest ancestor of the
/// test binaries holding ConsentRegistry.sln) and the conformance data in <c>tests/testdata</c>.
/// The one locator of the test projects (linked into each csproj): no test reads anything outside the clone.
/// </summary>
internal static class RepositoryPaths
{
    private const string SolutionFile = "ConsentRegistry.sln";

    private static readonly Lazy<string> RootDirectory = new(FindRoot);

    private static readonly Lazy<string> TestDataDirectory = new(FindTestData);

    /// <summary>The repository root; throws, saying where it looked, when no ancestor holds ConsentRegistry.sln.</summary>
    public static string Root => RootDirectory.Value;

    /// <summary><c>tests/testdata</c> of the repository; throws, saying what is missing, when the clone lacks it.</summary>
    public static string TestData => TestDataDirectory.Value;

    /// <summary>
    /// A file of <c>tests/testdata</c>, e.g. <c>TestDataFile("pdq", "expected.csv")</c>; throws, naming the
    /// missing file, when it is not there.
    /// </summary>
    public static string TestDataFile(params string[] relativePath)
    {
        var path = Path.Combine([TestData, .. relativePath]);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"Test data file missing: {path}. The tests read only files committed under tests/testdata; "
                + "restore it with 'git checkout -- tests/testdata' (see tests/testdata/README.md).",
                path);
        }

        return path;
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, SolutionFile)))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException(
            $"Repository root not found: no {SolutionFile} in {AppContext.BaseDirectory} or any folder above it. "
            + "Run the tests from a clone of the repository (scripts/test.sh or dotnet test ConsentRegistry.sln).");
    }

    private static string FindTestData()
    {
        var directory = Path.Combine(Root, "tests", "testdata");
        if (!File.Exists(Path.Combine(directory, "README.md")))
        {
            throw new DirectoryNotFoundException(
                $"Test data not found: {directory} (or its README.md) is missing from the clone at {Root}. "
                + "It is part of the repository; restore it with 'git checkout -- tests/testdata'.");
        }

        return directory;
    }
}

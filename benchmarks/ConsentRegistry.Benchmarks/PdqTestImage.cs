namespace ConsentRegistry.Benchmarks;

/// <summary>Finds an image of the PDQ conformance data (tests/testdata/pdq in the repository).</summary>
internal static class PdqTestImage
{
    private const string RelativeDirectory = "tests/testdata/pdq";

    public static byte[] Read(string relativePath)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var file = Path.Combine(directory.FullName, RelativeDirectory, relativePath);
            if (File.Exists(file))
            {
                return File.ReadAllBytes(file);
            }
        }

        throw new FileNotFoundException(
            $"No {RelativeDirectory}/{relativePath} in any ancestor of {AppContext.BaseDirectory}; run the benchmarks from a clone of the repository (tests/testdata is part of it).");
    }
}

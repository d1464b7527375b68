namespace ConsentRegistry.Benchmarks;

/// <summary>Finds an image of the PDQ conformance data (shared/testdata/pdq beside the repository clone).</summary>
internal static class PdqTestImage
{
    private const string RelativeDirectory = "shared/testdata/pdq";

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
            $"No {RelativeDirectory}/{relativePath} in any ancestor of {AppContext.BaseDirectory}; the shared/ folder must sit beside the repository clone.");
    }
}

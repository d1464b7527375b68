using ConsentRegistry.Api.Images;
using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Core.Tests.Pdq;

/// <summary>
/// Finds the PDQ conformance data (shared/testdata/pdq beside the repository) and decodes its images.
/// </summary>
internal static class PdqTestData
{
    private const string RelativeDirectory = "shared/testdata/pdq";
    private const string MarkerFile = "expected.csv";

    /// <summary>Theory rows name this when the data cannot be found, so the test fails saying where it looked.</summary>
    public const string NotFound = "<PDQ test data not found>";

    private static readonly Lazy<(string? Directory, string SearchedFrom)> Location = new(Locate);

    /// <summary>The data directory, or null when no ancestor of the test binaries has it.</summary>
    public static string? DirectoryOrNull => Location.Value.Directory;

    /// <summary>The data directory; fails the calling test when it is missing.</summary>
    public static string Directory =>
        Location.Value.Directory ?? throw new InvalidOperationException(
            $"PDQ conformance data not found: looked for <dir>/{RelativeDirectory}/{MarkerFile} in every ancestor " +
            $"<dir> of {Location.Value.SearchedFrom} (the shared/ folder must sit beside the repository clone).");

    private static (string?, string) Locate()
    {
        string start = AppContext.BaseDirectory;
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, RelativeDirectory);
            if (File.Exists(Path.Combine(candidate, MarkerFile)))
            {
                return (candidate, start);
            }
        }

        return (null, start);
    }

    /// <summary>Rows of a CSV file of the data directory, header skipped, split on commas.</summary>
    public static IReadOnlyList<string[]> ReadCsv(string fileName) =>
        File.ReadLines(Path.Combine(Directory, fileName))
            .Skip(1)
            .Where(line => line.Trim().Length > 0)
            .Select(line => line.Trim().Split(','))
            .ToList();

    /// <summary>Theory rows from a CSV file, or one <see cref="NotFound"/> row when the data is missing.</summary>
    public static TheoryData<string> PathsOf(string fileName, Func<string[], bool>? filter = null)
    {
        var data = new TheoryData<string>();
        if (DirectoryOrNull is null)
        {
            data.Add(NotFound);
            return data;
        }

        foreach (var row in ReadCsv(fileName))
        {
            if (filter is null || filter(row))
            {
                data.Add(row[0]);
            }
        }

        return data;
    }

    /// <summary>The CSV row whose first column is <paramref name="path"/>.</summary>
    public static string[] Row(string fileName, string path)
    {
        _ = Directory; // fails first, saying where it looked, when the data is missing
        return ReadCsv(fileName).Single(row => row[0] == path);
    }

    /// <summary>
    /// Decodes an image of the data directory as the API does (<see cref="EncodedImage"/>): as the reference's loader
    /// sees it in <see cref="ImageHashMode.Exact"/> mode.
    /// </summary>
    public static DecodedImage Decode(string relativePath, ImageHashMode mode = ImageHashMode.Exact)
    {
        using var image = EncodedImage.Open(File.ReadAllBytes(Path.Combine(Directory, relativePath)));
        return image.Decode(mode);
    }

    /// <summary>The PDQ hash of an image of the data directory, decoded as <see cref="Decode"/> does.</summary>
    public static PdqResult Hash(string relativePath, ImageHashMode mode = ImageHashMode.Exact)
    {
        using var image = Decode(relativePath, mode);
        return image.Hash();
    }

    /// <summary>The 8 dihedral PDQ hashes of an image of the data directory, decoded as <see cref="Decode"/> does.</summary>
    public static PdqDihedral HashDihedral(string relativePath, ImageHashMode mode = ImageHashMode.Exact)
    {
        using var image = Decode(relativePath, mode);
        return image.HashDihedral();
    }
}

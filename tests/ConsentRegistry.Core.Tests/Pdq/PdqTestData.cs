using ConsentRegistry.Imaging;
using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Core.Tests.Pdq;

/// <summary>The PDQ conformance data in <c>tests/testdata/pdq/</c> (see its README.md), and its images decoded.</summary>
internal static class PdqTestData
{
    /// <summary>A file of the data directory, e.g. <c>Read("bridge-mods/aaa-orig.jpg")</c>; throws, naming it, when it is missing.</summary>
    public static byte[] Read(string relativePath) => File.ReadAllBytes(RepositoryPaths.TestDataFile("pdq", relativePath));

    /// <summary>Rows of a CSV file of the data directory, header skipped, split on commas.</summary>
    public static IReadOnlyList<string[]> ReadCsv(string fileName) =>
        File.ReadLines(RepositoryPaths.TestDataFile("pdq", fileName))
            .Skip(1)
            .Where(line => line.Trim().Length > 0)
            .Select(line => line.Trim().Split(','))
            .ToList();

    /// <summary>Theory rows from a CSV file: the paths (first column) of the rows <paramref name="filter"/> keeps.</summary>
    public static TheoryData<string> PathsOf(string fileName, Func<string[], bool>? filter = null)
    {
        var data = new TheoryData<string>();
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
    public static string[] Row(string fileName, string path) => ReadCsv(fileName).Single(row => row[0] == path);

    /// <summary>
    /// Decodes an image of the data directory as the API does (<see cref="EncodedImage"/>): as the reference's loader
    /// sees it in <see cref="ImageHashMode.Exact"/> mode.
    /// </summary>
    public static DecodedImage Decode(string relativePath, ImageHashMode mode = ImageHashMode.Exact)
    {
        using var image = EncodedImage.Open(Read(relativePath));
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

using System.Diagnostics;
using Parquet;
using Parquet.Schema;

namespace ConsentRegistry.LoadGen;

/// <summary>
/// Writes a LAION-like metadata file for the consent-registry command's benchmark: LAION's own
/// column names and types (SAMPLE_ID, URL, TEXT, HEIGHT, WIDTH, similarity), URLs drawn from the
/// lookup universe of the same size (half of them registered unless told otherwise: far more
/// than real data, so that the removed-row path is measured too), captions of LAION's length.
/// </summary>
internal static class LaionParquet
{
    private static readonly string[] Words =
    [
        "a", "photo", "of", "the", "beautiful", "vintage", "poster", "with", "red", "blue", "abstract", "watercolor",
        "painting", "on", "canvas", "modern", "art", "print", "illustration", "landscape", "portrait", "cat", "dog",
    ];

    /// <param name="registeredPercent">The share of rows whose URL is registered (the universe's own mix is about 50 %).</param>
    public static async Task<int> RunAsync(int subjects, int rows, int rowGroup, string path, int registeredPercent = 50)
    {
        var universe = new LookupUniverse(subjects);
        var schema = new ParquetSchema(
            new DataField<long>("SAMPLE_ID"),
            new DataField<string>("URL"),
            new DataField<string>("TEXT"),
            new DataField<int?>("HEIGHT"),
            new DataField<int?>("WIDTH"),
            new DataField<double?>("similarity"));
        var clock = Stopwatch.StartNew();
        var random = new Random(20261205);
        long registered = 0;
        await using (var file = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(schema, file))
        {
            writer.CustomMetadata = new Dictionary<string, string> { ["generated_by"] = "ConsentRegistry.LoadGen laion-parquet" };
            var fields = schema.GetDataFields();
            for (var start = 0; start < rows; start += rowGroup)
            {
                var count = Math.Min(rowGroup, rows - start);
                var ids = new long[count];
                var urls = new string[count];
                var texts = new string[count];
                var heights = new int?[count];
                var widths = new int?[count];
                var similarity = new double?[count];
                for (var i = 0; i < count; i++)
                {
                    ids[i] = start + i;
                    (urls[i], var hit) = Draw(universe, random, random.Next(100) < registeredPercent);
                    registered += hit ? 1 : 0;
                    texts[i] = Caption(random);
                    heights[i] = random.Next(10) == 0 ? null : 256 + random.Next(1800);
                    widths[i] = random.Next(10) == 0 ? null : 256 + random.Next(1800);
                    similarity[i] = 0.28 + random.NextDouble() * 0.2;
                }

                using var group = writer.CreateRowGroup();
                await group.WriteAsync<long>(fields[0], ids);
                await group.WriteAsync(fields[1], urls);
                await group.WriteAsync(fields[2], texts);
                await group.WriteAsync<int>(fields[3], heights);
                await group.WriteAsync<int>(fields[4], widths);
                await group.WriteAsync<double>(fields[5], similarity);
            }
        }

        Console.WriteLine($"wrote {rows:N0} rows ({registered:N0} registered URLs) in groups of {rowGroup:N0} to {path}: {new FileInfo(path).Length / 1048576.0:F1} MiB in {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    /// <summary>A query of the universe that is registered or not, as asked.</summary>
    private static (string Url, bool Registered) Draw(LookupUniverse universe, Random random, bool registered)
    {
        while (true)
        {
            var query = universe.Query(random);
            if (query.Registered == registered)
            {
                return query;
            }
        }
    }

    private static string Caption(Random random)
    {
        var words = new string[6 + random.Next(12)];
        for (var i = 0; i < words.Length; i++)
        {
            words[i] = Words[random.Next(Words.Length)];
        }

        return string.Join(' ', words);
    }
}

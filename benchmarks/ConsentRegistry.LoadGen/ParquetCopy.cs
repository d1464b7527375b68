using System.Diagnostics;
using Parquet;
using Parquet.Data;

namespace ConsentRegistry.LoadGen;

/// <summary>
/// The floor under consent-registry filter's speed: Parquet.Net reading every column of a file
/// (as the command reads it), then reading and writing it again unchanged, on one thread.
/// </summary>
internal static class ParquetCopy
{
    public static async Task<int> RunAsync(string path)
    {
        var clock = Stopwatch.StartNew();
        long rows = 0;
        await using (var reader = await ParquetReader.CreateAsync(path))
        {
            var fields = reader.Schema.GetDataFields();
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                rows += group.RowCount;
                foreach (var field in fields)
                {
                    using var column = await group.ReadRawColumnDataBaseAsync(field);
                }
            }
        }

        Console.WriteLine($"read:         {rows:N0} rows in {clock.Elapsed.TotalSeconds:F2} s ({rows / clock.Elapsed.TotalSeconds:N0} rows/s, one thread)");
        clock.Restart();
        var copy = Path.Combine(Path.GetTempPath(), $"parquet-copy-{Environment.ProcessId}.parquet");
        try
        {
            await using (var reader = await ParquetReader.CreateAsync(path))
            await using (var output = File.Create(copy))
            await using (var writer = await ParquetWriter.CreateAsync(reader.Schema, output))
            {
                var fields = reader.Schema.GetDataFields();
                for (var g = 0; g < reader.RowGroupCount; g++)
                {
                    using var group = reader.OpenRowGroupReader(g);
                    using var rowGroup = writer.CreateRowGroup();
                    foreach (var field in fields)
                    {
                        using var column = await group.ReadRawColumnDataBaseAsync(field);
                        await WriteAsync(rowGroup, field, column);
                    }

                    rowGroup.CompleteValidate();
                }
            }

            Console.WriteLine($"read + write: {rows:N0} rows in {clock.Elapsed.TotalSeconds:F2} s ({rows / clock.Elapsed.TotalSeconds:N0} rows/s, one thread)");
        }
        finally
        {
            File.Delete(copy);
        }

        return 0;
    }

    /// <summary>The flat column types the benchmark's files hold.</summary>
    private static Task WriteAsync(ParquetRowGroupWriter writer, Parquet.Schema.DataField field, RawColumnData column) => column switch
    {
        RawColumnData<long> c when field.MaxDefinitionLevel == 0 => writer.WriteAsync<long>(field, c.Values.ToArray(), null, null, default),
        RawColumnData<long> c => writer.WriteAllPartsAsync<long>(field, c.Values.ToArray(), c.DefinitionLevels.ToArray(), null, default),
        RawColumnData<int> c => writer.WriteAllPartsAsync<int>(field, c.Values.ToArray(), c.DefinitionLevels.ToArray(), null, default),
        RawColumnData<double> c => writer.WriteAllPartsAsync<double>(field, c.Values.ToArray(), c.DefinitionLevels.ToArray(), null, default),
        RawColumnData<ReadOnlyMemory<char>> c => writer.WriteAllPartsAsync<ReadOnlyMemory<char>>(field, c.Values.ToArray(), c.DefinitionLevels.ToArray(), null, default),
        _ => throw new NotSupportedException($"{field.Name}: {column.GetType()}"),
    };
}

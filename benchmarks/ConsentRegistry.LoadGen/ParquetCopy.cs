using System.Diagnostics;
using ParquetSharp;
using ParquetSharp.Schema;

namespace ConsentRegistry.LoadGen;

/// <summary>
/// The floor under consent-registry filter's speed: the Parquet library it uses (ParquetSharp)
/// reading every column of a file as the command reads it (physical values and levels, in
/// batches), then reading and writing it again unchanged (no dictionary, as the command writes
/// the benchmark's files), on one thread.
/// </summary>
internal static class ParquetCopy
{
    private const int Batch = 16 * 1024;

    public static Task<int> RunAsync(string path)
    {
        var clock = Stopwatch.StartNew();
        long rows;
        using (var reader = new ParquetFileReader(path))
        {
            rows = reader.FileMetaData.NumRows;
            ForEachColumn(reader, (_, column) => column.Apply(new Copier(null)));
        }

        Console.WriteLine($"read:         {rows:N0} rows in {clock.Elapsed.TotalSeconds:F2} s ({rows / clock.Elapsed.TotalSeconds:N0} rows/s, one thread)");
        clock.Restart();
        var copy = Path.Combine(Path.GetTempPath(), $"parquet-copy-{Environment.ProcessId}.parquet");
        try
        {
            using (var reader = new ParquetFileReader(path))
            using (var schema = (GroupNode)reader.FileMetaData.Schema.GroupNode.DeepClone())
            using (var properties = new WriterPropertiesBuilder().Compression(Compression.Snappy).DisableDictionary().Build())
            using (var writer = new ParquetFileWriter(copy, schema, properties, reader.FileMetaData.KeyValueMetadata))
            {
                RowGroupWriter? rowGroup = null;
                ForEachColumn(reader, (c, column) =>
                {
                    if (c == 0)
                    {
                        rowGroup?.Dispose();
                        rowGroup = writer.AppendRowGroup();
                    }

                    using var target = rowGroup!.NextColumn();
                    column.Apply(new Copier(target));
                });
                rowGroup?.Dispose();
                writer.Close();
            }

            Console.WriteLine($"read + write: {rows:N0} rows in {clock.Elapsed.TotalSeconds:F2} s ({rows / clock.Elapsed.TotalSeconds:N0} rows/s, one thread)");
        }
        finally
        {
            File.Delete(copy);
        }

        return Task.FromResult(0);
    }

    private static void ForEachColumn(ParquetFileReader reader, Action<int, ColumnReader> action)
    {
        for (var g = 0; g < reader.FileMetaData.NumRowGroups; g++)
        {
            using var group = reader.RowGroup(g);
            for (var c = 0; c < reader.FileMetaData.NumColumns; c++)
            {
                using var column = group.Column(c);
                action(c, column);
            }
        }
    }

    /// <summary>Reads a column chunk to its end, writing each batch to <paramref name="target"/> when there is one.</summary>
    private sealed class Copier(ColumnWriter? target) : IColumnReaderVisitor<bool>
    {
        public bool OnColumnReader<TValue>(ColumnReader<TValue> reader)
            where TValue : unmanaged
        {
            var definitions = new short[Batch];
            var repetitions = new short[Batch];
            var values = new TValue[Batch];
            while (reader.HasNext)
            {
                var levels = (int)reader.ReadBatch(Batch, definitions, repetitions, values, out var count);
                ((ColumnWriter<TValue>?)target)?.WriteBatch(levels, definitions, repetitions, values.AsSpan(0, (int)count));
            }

            return true;
        }
    }
}

using ConsentRegistry.Cli.Filtering;
using ParquetSharp;
using ParquetSharp.Schema;
using static ConsentRegistry.Api.Tests.Cli.CliRun;

namespace ConsentRegistry.Api.Tests.Cli;

/// <summary>
/// The filter's resumable output: a Parquet file that grows one row group at a time, each written
/// by a writer of its own and its footer joined to the one before, read back whole by DuckDB, and
/// put back by <see cref="ParquetOutput.Restore"/> after a write cut off midway.
/// </summary>
public sealed class ParquetOutputTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("parquet-output-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Forty_row_groups_appended_one_by_one_are_one_file_with_every_row_in_its_group()
    {
        var path = Path.Combine(_folder, "out.parquet");
        using var schema = Schema();
        using var properties = new WriterPropertiesBuilder().Compression(Compression.Snappy).Build();
        var output = new ParquetOutput(path, schema, properties, new Dictionary<string, string> { ["origin"] = "test" });
        const int groups = 40; // past 14: the footer's list of row groups takes its long header
        for (var group = 0; group < groups; group++)
        {
            output.AppendRowGroup(writer => WriteRows(writer, group));
            Assert.Equal(group + 1, output.Checkpoint!.RowGroups);
            Assert.Equal(new FileInfo(path).Length, output.Checkpoint.Length);
        }

        output.Complete();
        AssertRows(path, groups);
        using var reader = new ParquetFileReader(path);
        Assert.Equal("test", reader.FileMetaData.KeyValueMetadata["origin"]);
        Assert.Equal(Enumerable.Range(0, groups).Sum(RowsIn), reader.FileMetaData.NumRows);
    }

    [Fact]
    public void A_row_group_cut_off_midway_is_undone_by_restore_and_the_file_goes_on_from_there()
    {
        var path = Path.Combine(_folder, "out.parquet");
        using var schema = Schema();
        using var properties = new WriterPropertiesBuilder().Build();
        var output = new ParquetOutput(path, schema, properties, new Dictionary<string, string>());
        for (var group = 0; group < 3; group++)
        {
            output.AppendRowGroup(writer => WriteRows(writer, group));
        }

        var checkpoint = output.Checkpoint;
        output.AppendRowGroup(writer => WriteRows(writer, 3));

        // As if killed while the fourth row group's footer was being joined: cut inside its bytes.
        using (var file = new FileStream(path, FileMode.Open))
        {
            file.SetLength(checkpoint!.Length + 100);
        }

        var resumed = new ParquetOutput(path, schema, properties, new Dictionary<string, string>());
        resumed.Restore(checkpoint);
        AssertRows(path, 3);
        for (var group = 3; group < 6; group++)
        {
            resumed.AppendRowGroup(writer => WriteRows(writer, group));
        }

        AssertRows(path, 6);
    }

    [Fact]
    public void An_output_with_no_row_is_a_valid_file_with_the_schema()
    {
        var path = Path.Combine(_folder, "empty.parquet");
        using var schema = Schema();
        using var properties = new WriterPropertiesBuilder().Build();
        var output = new ParquetOutput(path, schema, properties, new Dictionary<string, string>());
        output.Complete();
        Assert.Equal(0, Count($"SELECT count(*) FROM '{path}'"));
        Assert.Equal([("id", "BIGINT"), ("name", "VARCHAR")], Describe(path));
    }

    [Fact]
    public void A_footer_that_is_not_thrift_is_refused()
    {
        var noise = new byte[64];
        new Random(7).NextBytes(noise);
        noise[0] = 0x1C; // a struct field, then noise
        Assert.Throws<InvalidDataException>(() => ParquetFooter.Join(noise, noise));
    }

    [Fact]
    public void A_footer_that_goes_on_after_its_end_or_lacks_its_row_groups_is_refused()
    {
        var path = Path.Combine(_folder, "one.parquet");
        using var schema = Schema();
        using var properties = new WriterPropertiesBuilder().Build();
        var output = new ParquetOutput(path, schema, properties, new Dictionary<string, string>());
        output.AppendRowGroup(writer => WriteRows(writer, 0));
        var footer = output.Checkpoint!.Tail[..^8];

        Assert.True(ParquetFooter.Join(footer, footer).Length > footer.Length); // two row groups' worth
        Assert.Throws<InvalidDataException>(() => ParquetFooter.Join([.. footer, 0], footer));
        Assert.Throws<InvalidDataException>(() => ParquetFooter.Join(footer, [0])); // a struct with no field at all
    }

    /// <summary>
    /// A row group's ordinal is an i16, which joining the footers would have to renumber past
    /// 32,767 if the writer wrote one: the Arrow that ParquetSharp bundles writes none for files
    /// that are not encrypted, so an output of more than 32,768 row groups (an input of many small
    /// ones) joins and stays a file readers open.
    /// </summary>
    [Fact]
    public void An_output_of_more_row_groups_than_an_ordinal_counts_is_a_file_readers_open()
    {
        var path = Path.Combine(_folder, "many.parquet");
        using var schema = Schema();
        using var properties = new WriterPropertiesBuilder().Build();
        var output = new ParquetOutput(path, schema, properties, new Dictionary<string, string>());
        output.AppendRowGroup(writer => WriteRows(writer, 0));
        var one = output.Checkpoint!.Tail[..^8];
        var footer = one;
        for (var doubling = 0; doubling < 15; doubling++)
        {
            footer = ParquetFooter.Join(footer, footer); // 2^15 = 32,768 row groups, each the first one again
        }

        footer = ParquetFooter.Join(footer, one);

        var data = File.ReadAllBytes(path)[..^(output.Checkpoint.Tail.Length)];
        var many = Path.Combine(_folder, "many-groups.parquet");
        var length = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(length, footer.Length);
        File.WriteAllBytes(many, [.. data, .. footer, .. length, .. "PAR1"u8.ToArray()]);
        using var reader = new ParquetFileReader(many);
        Assert.Equal(32_769, reader.FileMetaData.NumRowGroups);
        using var first = reader.RowGroup(0);
        using var last = reader.RowGroup(32_768);
        Assert.Equal(first.MetaData.NumRows, last.MetaData.NumRows);
    }

    private static GroupNode Schema()
    {
        using var text = LogicalType.String();
        using var id = new PrimitiveNode("id", Repetition.Required, LogicalType.None(), PhysicalType.Int64);
        using var name = new PrimitiveNode("name", Repetition.Optional, text, PhysicalType.ByteArray);
        return new GroupNode("schema", Repetition.Required, [id, name]);
    }

    /// <summary>Row group g holds 10 + g rows, ids from 1,000 g; every third name is null.</summary>
    private static int RowsIn(int group) => 10 + group;

    private static void WriteRows(RowGroupWriter writer, int group)
    {
        var ids = Enumerable.Range(0, RowsIn(group)).Select(i => (1_000L * group) + i).ToArray();
        using (var column = writer.NextColumn())
        using (var values = column.LogicalWriter<long>())
        {
            values.WriteBatch(ids);
        }

        using (var column = writer.NextColumn())
        using (var values = column.LogicalWriter<string?>())
        {
            values.WriteBatch([.. ids.Select(id => id % 3 == 0 ? null : $"row {id}")]);
        }
    }

    private static void AssertRows(string path, int groups)
    {
        var expected = Enumerable.Range(0, groups).SelectMany(g => Enumerable.Range(0, RowsIn(g)).Select(i => (1_000L * g) + i)).ToList();
        Assert.Equal(expected, Query($"SELECT id FROM '{path}' ORDER BY id").Select(row => (long)row[0]!));
        Assert.Equal(expected.Count(id => id % 3 != 0), Count($"SELECT count(*) FROM '{path}' WHERE name = 'row ' || id"));
        Assert.Equal(
            Enumerable.Range(0, groups).Select(g => ((long)g, (long)RowsIn(g))),
            Query($"SELECT row_group_id, row_group_num_rows FROM parquet_metadata('{path}') GROUP BY ALL ORDER BY 1").Select(r => (Convert.ToInt64(r[0]), Convert.ToInt64(r[1]))));

        // Every row group's column chunks lie where the footer says: DuckDB reads each by offset.
        for (var g = 0; g < groups; g++)
        {
            Assert.Equal(1_000L * g, Count($"SELECT min(id) FROM '{path}' WHERE id >= {1_000L * g} AND id < {1_000L * (g + 1)}"));
        }
    }
}

using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Tests.Snapshots;

/// <summary>
/// An array field written or read in parts, for a column longer than one array may be (the claims'
/// usage column past 429,496,729 claims): the same bytes as one written whole.
/// </summary>
public sealed class SnapshotArrayPartsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("snapshot-parts-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void An_array_written_in_parts_is_the_bytes_of_one_written_whole_and_reads_back_in_parts()
    {
        var values = Enumerable.Range(0, 10_001).Select(i => (byte)(i * 7)).ToArray(); // padded to 8 bytes
        var whole = Write("whole.snap", writer => writer.WriteArray<byte>(values));
        var parts = Write("parts.snap", writer =>
        {
            writer.BeginArray<byte>(values.Length);
            for (var at = 0; at < values.Length; at += 999)
            {
                writer.WriteArrayPart<byte>(values.AsSpan(at, Math.Min(999, values.Length - at)));
            }

            writer.EndArray();
        });

        Assert.Equal(File.ReadAllBytes(whole), File.ReadAllBytes(parts));

        using var reader = new SnapshotReader(whole);
        reader.BeginSection("column");
        Assert.Equal(values.Length, reader.BeginArray<byte>(max: values.Length));
        var read = new byte[values.Length];
        for (var at = 0; at < values.Length; at += 1_000)
        {
            reader.ReadArrayPart(read.AsSpan(at, Math.Min(1_000, values.Length - at)));
        }

        reader.EndArray();
        Assert.Equal(7, reader.ReadInt64());
        reader.EndSection();
        reader.ReadEnd();
        Assert.Equal(values, read);
    }

    [Fact]
    public void Parts_past_the_count_or_short_of_it_are_refused_and_so_is_a_count_over_the_most_expected()
    {
        var path = Write("refused.snap", writer =>
        {
            writer.BeginArray<int>(3);
            writer.WriteArrayPart<int>([1, 2]);
            Assert.Throws<InvalidOperationException>(() => writer.WriteArrayPart<int>([3, 4]));
            Assert.Throws<InvalidOperationException>(() => writer.WriteArrayPart<long>([3]));
            Assert.Throws<InvalidOperationException>(writer.EndArray);
            writer.WriteArrayPart<int>([3]);
            writer.EndArray();
        });

        using var reader = new SnapshotReader(path);
        reader.BeginSection("column");
        Assert.Throws<SnapshotFormatException>(() => reader.BeginArray<int>(max: 2));
    }

    private string Write(string name, Action<SnapshotWriter> column)
    {
        var path = Path.Combine(_folder, name);
        using var writer = new SnapshotWriter(path, new SnapshotHeader(SnapshotHeader.CurrentFormat, Guid.Empty, 1, DateTimeOffset.UnixEpoch));
        writer.BeginSection("column");
        column(writer);
        writer.WriteInt64(7);
        writer.EndSection();
        writer.Finish();
        return path;
    }
}

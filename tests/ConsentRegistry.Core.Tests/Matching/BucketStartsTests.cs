using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Core.Tests.Matching;

public sealed class BucketStartsTests
{
    [Theory]
    [InlineData(1024, 2_048, 1)] // a few entries a bucket: byte offsets
    [InlineData(65_536, 1_000_000, 1)] // about 15 a bucket: ushort offsets
    [InlineData(4_096, 300_000, 90_000)] // one bucket with 90,000 copies of a hash
    public void Every_start_and_every_entry_s_bucket_read_back_as_built(int buckets, int count, int heaviest)
    {
        var random = new Random(buckets + count);
        var sizes = new int[buckets];
        sizes[random.Next(buckets)] = heaviest - 1;
        for (var i = 0; i < count - heaviest + 1; i++)
        {
            sizes[random.Next(buckets)]++;
        }

        var starts = new int[buckets + 1];
        for (var key = 0; key < buckets; key++)
        {
            starts[key + 1] = starts[key] + sizes[key];
        }

        var table = new BucketStarts(starts);

        for (var key = 0; key <= buckets; key++)
        {
            Assert.Equal(starts[key], table[key]);
        }

        for (var position = 0; position < starts[^1]; position += 1 + random.Next(50))
        {
            var key = table.BucketOf(position);
            Assert.True(starts[key] <= position && position < starts[key + 1], $"entry {position} is not in bucket {key}");
        }

        Assert.True(table.Bytes < (buckets + 1) * sizeof(int), "the table should be smaller than plain int starts");
    }
}

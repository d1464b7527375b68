using ConsentRegistry.Api.Matching;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Snapshots;
using static ConsentRegistry.Api.Tests.Lookup.ApproximateVectorTests;

namespace ConsentRegistry.Api.Tests.Lookup;

/// <summary>
/// The sign-code index's own bounds and guards: its centre taken again as the rows grow, a bounded
/// scan of crowded buckets, saved bytes checked before use, and models too short for it. What it
/// finds against exact search is in <see cref="ApproximateVectorTests"/>, with the graph's.
/// </summary>
public sealed class SignCodeVectorsTests
{
    private const int Dimensions = 512;

    [Fact]
    public void A_small_index_measures_from_the_origin_and_is_built_again_centred_once_it_has_the_rows_for_it()
    {
        var random = new Random(41);
        var vectors = Enumerable.Range(0, SignCodeVectors.MinCentreRows * 4).Select(_ => Features(random)).ToArray();
        var first = SignCodeVectors.MinCentreRows / 2;
        using var index = Indexed(vectors[..first], Settings(VectorIndexOptions.SignCodes, minVectors: 1));
        var query = new EmbeddingQuery(Model, [NearCopy(vectors[7], random)], Threshold);
        Assert.Contains(Id(7), Found(index, query)); // a mean of a few rows would sit on them: none is taken

        AddUpTo(index, vectors, SignCodeVectors.MinCentreRows - 1);
        Assert.Empty(index.PrepareVectorIndexes());
        AddUpTo(index, vectors, SignCodeVectors.MinCentreRows);
        var centred = index.PrepareVectorIndexes();
        Assert.Single(centred);
        index.CommitVectorIndexes(centred);
        Assert.Contains(Id(7), Found(index, query));

        AddUpTo(index, vectors, (4 * SignCodeVectors.MinCentreRows) - 1); // centred on 1,000: built again at 4,000
        Assert.Empty(index.PrepareVectorIndexes());
    }

    [Fact]
    public void A_search_reads_at_most_the_bounded_number_of_rows_of_a_crowded_bucket_newest_first()
    {
        var random = new Random(43);
        using var index = Centred(random);
        var copy = Features(random);
        var copies = SignCodeVectors.MaxScannedPerBucket + 100;
        index.Reserve(copies);
        for (var row = 0; row < copies; row++)
        {
            index.Add(row, copy); // every piece of every copy in the same bucket
        }

        var rows = new int[copies]; // room for every copy: only the bound keeps some out
        var found = index.Search(copy, rows);

        Assert.Equal(SignCodeVectors.MaxScannedPerBucket, found);
        Assert.Equal(copies - SignCodeVectors.MaxScannedPerBucket, rows[..found].Min());
    }

    [Fact]
    public void A_saved_index_reads_back_to_the_same_answers()
    {
        var random = new Random(47);
        using var index = Filled(random, 3_000);
        using var saved = index.Save();

        using var read = SignCodeVectors.Open(Dimensions, saved);

        Assert.Equal(index.Count, read.Count);
        Assert.InRange(read.Bytes, 1, index.Bytes); // read back without the room left for growth
        for (var q = 0; q < 50; q++)
        {
            var query = Features(random);
            Assert.Equal(Search(index, query), Search(read, query));
        }
    }

    [Fact]
    public void Saved_bytes_that_end_early_or_link_to_rows_not_there_are_refused()
    {
        var random = new Random(53);
        using var index = Filled(random, 100);
        using var saved = index.Save();
        var bytes = saved.Slice(0, (int)saved.Length).ToArray();

        using (var shorter = Buffer(bytes[..^1]))
        {
            Assert.Throws<InvalidDataException>(() => SignCodeVectors.Open(Dimensions, shorter));
        }

        var broken = bytes.ToArray();
        BitConverter.TryWriteBytes(broken.AsSpan(broken.Length - 4), 101); // the last row's last link: row 100 of 100
        using (var linked = Buffer(broken))
        {
            Assert.Throws<InvalidDataException>(() => SignCodeVectors.Open(Dimensions, linked));
        }

        using var otherModel = Buffer(bytes);
        Assert.Throws<InvalidDataException>(() => SignCodeVectors.Open(256, otherModel));
    }

    [Fact]
    public void A_model_too_short_for_sign_codes_gets_the_graph()
    {
        var settings = VectorIndexes.Settings(new VectorIndexOptions())!;

        using var shortModel = settings.Create(SignCodeVectors.MinDimensions - 1);
        using var model = settings.Create(Dimensions);

        Assert.IsType<UsearchVectors>(shortModel);
        Assert.IsType<SignCodeVectors>(model);
    }

    [Fact]
    public async Task An_unknown_index_kind_stops_the_start_with_a_message_saying_how_to_fix_it()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Matching:VectorIndex:Kind"] = "faiss" });

        var error = Assert.ThrowsAny<Exception>(app.StartServer);

        Assert.Contains("Registry:Matching:VectorIndex:Kind is 'faiss'; use sign-codes or hnsw", error.ToString());
    }

    private static void AddUpTo(MatchingIndex index, float[][] vectors, int count)
    {
        for (var i = index.ClaimCount; i < count; i++)
        {
            index.Add(Claim(i, vectors[i]));
        }
    }

    /// <summary>An index centred on the mean of 1,000 random vectors, as a build over them would be.</summary>
    private static SignCodeVectors Centred(Random random)
    {
        var index = new SignCodeVectors(Dimensions);
        var mean = new float[Dimensions];
        for (var i = 0; i < 1_000; i++)
        {
            var vector = Features(random);
            for (var d = 0; d < Dimensions; d++)
            {
                mean[d] += vector[d] / 1_000;
            }
        }

        index.Centre(mean, 1_000);
        return index;
    }

    private static SignCodeVectors Filled(Random random, int rows)
    {
        var index = Centred(random);
        for (var row = 0; row < rows; row++)
        {
            index.Add(row, Features(random));
        }

        return index;
    }

    private static int[] Search(SignCodeVectors index, float[] query)
    {
        var rows = new int[16];
        return rows[..index.Search(query, rows)];
    }

    private static NativeBuffer Buffer(byte[] bytes)
    {
        var buffer = new NativeBuffer(bytes.Length);
        bytes.CopyTo(buffer.Slice(0, bytes.Length));
        return buffer;
    }
}

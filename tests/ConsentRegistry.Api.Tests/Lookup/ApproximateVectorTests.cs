using ConsentRegistry.Api.Matching;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Api.Tests.Lookup;

/// <summary>
/// The approximate vector index behind embedding lookups, of either kind (sign codes, the default, and
/// USearch's graph): past its threshold it proposes candidates that are re-checked exactly, so it
/// finds what exact search finds and nothing else. Lookups through it end to end, and after a
/// restart, are in <see cref="EmbeddingLookupTests"/>; the sign codes' own bounds in <see cref="SignCodeVectorsTests"/>.
/// </summary>
public sealed class ApproximateVectorTests
{
    internal const string Model = "test-model-v1";
    private const int Dimensions = 512;
    internal const float Threshold = 0.98f;
    private static readonly Usage No = new(Preference.No, Preference.Unset, Preference.Unset, Preference.Unset, Preference.Unset);

    [Theory]
    [InlineData(VectorIndexOptions.SignCodes)]
    [InlineData(VectorIndexOptions.Hnsw)]
    public void Near_copies_find_the_same_claims_as_exact_search_before_and_after_the_index_takes_over(string kind)
    {
        // Non-negative vectors, like pooled image features: every pair is fairly similar, which is
        // what makes graph search hard. The index takes over at claim 1,000 of 3,000.
        var random = new Random(7);
        var vectors = Enumerable.Range(0, 3_000).Select(_ => Features(random)).ToArray();
        var exact = new MatchingIndex();
        using var approximate = new MatchingIndex(Settings(kind, minVectors: 1_000));
        for (var i = 0; i < vectors.Length; i++)
        {
            exact.Add(Claim(i, vectors[i]));
            approximate.Add(Claim(i, vectors[i]));
            approximate.BuildVectorIndexes(); // as the shared index does after each write: built once, at 1,000
            exact.BuildVectorIndexes();
        }

        var mismatches = new List<string>();
        var matched = 0;
        for (var q = 0; q < 200; q++)
        {
            var target = random.Next(vectors.Length);
            var query = new EmbeddingQuery(Model, [NearCopy(vectors[target], random)], Threshold);
            var expected = Found(exact, query);
            var found = Found(approximate, query);
            Assert.Contains(Id(target), expected);
            matched += expected.Count;
            if (!expected.SetEquals(found))
            {
                mismatches.Add($"copy of {target}: exact {string.Join(",", expected.Order())}, approximate {string.Join(",", found.Order())}");
            }
        }

        Assert.True(mismatches.Count == 0, string.Join("; ", mismatches));
        Assert.True(matched >= 200);
        Assert.True(approximate.EstimatedBytes > exact.EstimatedBytes); // the graph is counted in the index's size
    }

    [Theory]
    [InlineData(VectorIndexOptions.SignCodes)]
    [InlineData(VectorIndexOptions.Hnsw)]
    public void The_shared_index_builds_the_vector_index_after_the_write_that_reaches_the_threshold(string kind)
    {
        var random = new Random(17);
        var vectors = Enumerable.Range(0, 20).Select(_ => Features(random)).ToArray();
        using var shared = new SharedMatchingIndex(Settings(kind, minVectors: 10));
        using var exact = new SharedMatchingIndex();
        shared.MarkReady();
        exact.MarkReady();
        long ApproximateBytes() => shared.Measure().Bytes - exact.Measure().Bytes;

        shared.Write(index => { for (var i = 0; i < 9; i++) index.Add(Claim(i, vectors[i])); });
        exact.Write(index => { for (var i = 0; i < 9; i++) index.Add(Claim(i, vectors[i])); });
        Assert.Equal(0, ApproximateBytes()); // below the threshold: exact scans only

        shared.Write(index => { for (var i = 9; i < 20; i++) index.Add(Claim(i, vectors[i])); });
        exact.Write(index => { for (var i = 9; i < 20; i++) index.Add(Claim(i, vectors[i])); });
        Assert.True(ApproximateBytes() > 0);

        using var read = shared.Read();
        Assert.Contains(Id(15), Found(read.Index, new EmbeddingQuery(Model, [vectors[15]], Threshold)));
    }

    [Theory]
    [InlineData(VectorIndexOptions.SignCodes)]
    [InlineData(VectorIndexOptions.Hnsw)]
    public void During_the_build_from_the_store_the_vector_index_waits_for_the_end_and_is_built_once_from_every_vector(string kind)
    {
        var random = new Random(23);
        var vectors = Enumerable.Range(0, 40).Select(_ => Features(random)).ToArray();
        using var shared = new SharedMatchingIndex(Settings(kind, minVectors: 10));
        using var exact = new SharedMatchingIndex();
        long ApproximateBytes() => shared.Measure().Bytes - exact.Measure().Bytes;

        for (var start = 0; start < 40; start += 8)
        {
            var from = start;
            shared.Write(index => { for (var i = from; i < from + 8; i++) index.Add(Claim(i, vectors[i])); });
            exact.Write(index => { for (var i = from; i < from + 8; i++) index.Add(Claim(i, vectors[i])); });
        }

        Assert.Equal(0, ApproximateBytes()); // past the threshold, but not serving yet: exact scans only

        shared.MarkReady();
        exact.MarkReady();

        Assert.True(ApproximateBytes() > 0);
        using var read = shared.Read();
        Assert.Contains(Id(33), Found(read.Index, new EmbeddingQuery(Model, [vectors[33]], Threshold)));
    }

    [Theory]
    [InlineData(VectorIndexOptions.SignCodes)]
    [InlineData(VectorIndexOptions.Hnsw)]
    public void A_revoked_claim_proposed_by_the_index_does_not_match(string kind)
    {
        var random = new Random(11);
        var vectors = Enumerable.Range(0, 50).Select(_ => Features(random)).ToArray();
        using var index = Indexed(vectors, Settings(kind, minVectors: 10));

        var query = new EmbeddingQuery(Model, [vectors[20]], Threshold);
        Assert.Contains(Id(20), Found(index, query));

        index.Revoke(Id(20), 100);

        Assert.DoesNotContain(Id(20), Found(index, query));
    }

    [Theory]
    [InlineData(VectorIndexOptions.SignCodes)]
    [InlineData(VectorIndexOptions.Hnsw)]
    public void Concurrent_searches_give_what_one_search_gives(string kind)
    {
        var random = new Random(13);
        var vectors = Enumerable.Range(0, 2_000).Select(_ => Features(random)).ToArray();
        using var index = Indexed(vectors, Settings(kind, minVectors: 1));

        var queries = Enumerable.Range(0, 400).Select(i => new EmbeddingQuery(Model, [NearCopy(vectors[i * 5], random)], Threshold)).ToArray();
        var alone = queries.Select(q => Found(index, q)).ToArray();
        Assert.All(Enumerable.Range(0, queries.Length), i => Assert.Contains(Id(i * 5), alone[i])); // each finds at least the claim it copies

        // More threads than cores (and than USearch's search contexts), each searching every query.
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var threads = Enumerable.Range(0, 3 * Environment.ProcessorCount + 2).Select(t => new Thread(() =>
        {
            try
            {
                for (var i = 0; i < queries.Length; i++)
                {
                    if (!alone[i].SetEquals(Found(index, queries[i])))
                    {
                        failures.Enqueue($"thread {t}, query {i}: another answer");
                    }
                }
            }
            catch (Exception e)
            {
                failures.Enqueue($"thread {t}: {e.Message}");
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Empty(failures);
    }

    [Theory]
    [InlineData(VectorIndexOptions.SignCodes)]
    [InlineData(VectorIndexOptions.Hnsw)]
    public void A_snapshot_keeps_the_vector_index_so_the_read_index_searches_it_at_once_and_keeps_it_current(string kind)
    {
        var random = new Random(19);
        var vectors = Enumerable.Range(0, 1_500).Select(_ => Features(random)).ToArray();
        var settings = Settings(kind, minVectors: 100);
        using var written = Indexed(vectors[..1_000], settings);
        var path = WriteSnapshot(written);

        using var read = ReadSnapshot(path, settings);

        // Loaded, not rebuilt: a read index without one would want it built now; and it is counted.
        Assert.Empty(read.PrepareVectorIndexes());
        Assert.InRange(read.EstimatedBytes, written.EstimatedBytes * 0.95, written.EstimatedBytes * 1.05);
        var queries = Enumerable.Range(0, 200).Select(i => new EmbeddingQuery(Model, [NearCopy(vectors[i * 5], random)], Threshold)).ToArray();
        foreach (var query in queries)
        {
            Assert.Equal(Found(written, query), Found(read, query));
        }

        for (var i = 1_000; i < vectors.Length; i++)
        {
            read.Add(Claim(i, vectors[i]));
        }

        Assert.Empty(read.PrepareVectorIndexes());
        for (var i = 1_000; i < vectors.Length; i += 7)
        {
            Assert.Contains(Id(i), Found(read, new EmbeddingQuery(Model, [NearCopy(vectors[i], random)], Threshold)));
        }
    }

    [Fact]
    public void A_saved_vector_index_of_another_layout_is_built_again_from_the_vectors()
    {
        var random = new Random(23);
        var vectors = Enumerable.Range(0, 400).Select(_ => Features(random)).ToArray();
        using var written = Indexed(vectors, VectorIndexes.Settings(new VectorIndexOptions { Kind = VectorIndexOptions.Hnsw, MinVectors = 100, Dimensions = 128 }));
        var path = WriteSnapshot(written);

        using var read = ReadSnapshot(path, VectorIndexes.Settings(new VectorIndexOptions { Kind = VectorIndexOptions.Hnsw, MinVectors = 100, Dimensions = 64 }));

        var query = new EmbeddingQuery(Model, [NearCopy(vectors[42], random)], Threshold);
        Assert.Contains(Id(42), Found(read, query)); // an exact scan meanwhile
        var rebuilt = read.PrepareVectorIndexes();
        Assert.Single(rebuilt);
        read.CommitVectorIndexes(rebuilt);
        Assert.Contains(Id(42), Found(read, query));
    }

    [Theory]
    [InlineData(VectorIndexOptions.SignCodes, VectorIndexOptions.Hnsw)]
    [InlineData(VectorIndexOptions.Hnsw, VectorIndexOptions.SignCodes)]
    public void A_saved_vector_index_of_another_kind_is_built_again_from_the_vectors(string saved, string wanted)
    {
        var random = new Random(31);
        var vectors = Enumerable.Range(0, 400).Select(_ => Features(random)).ToArray();
        using var written = Indexed(vectors, Settings(saved, minVectors: 100));
        var path = WriteSnapshot(written);

        using var read = ReadSnapshot(path, Settings(wanted, minVectors: 100));

        var rebuilt = read.PrepareVectorIndexes();
        Assert.Single(rebuilt);
        read.CommitVectorIndexes(rebuilt);
        Assert.Contains(Id(42), Found(read, new EmbeddingQuery(Model, [NearCopy(vectors[42], random)], Threshold)));
    }

    [Theory]
    [InlineData(VectorIndexOptions.SignCodes)]
    [InlineData(VectorIndexOptions.Hnsw)]
    public void An_index_read_for_lookups_only_skips_the_saved_vector_index_and_scans_exactly(string kind)
    {
        var random = new Random(29);
        var vectors = Enumerable.Range(0, 300).Select(_ => Features(random)).ToArray();
        using var written = Indexed(vectors, Settings(kind, minVectors: 100));
        var path = WriteSnapshot(written);
        try
        {
            using var reader = new SnapshotReader(path);
            using var read = MatchingIndex.ReadSnapshotForLookups(reader);

            Assert.Contains(Id(7), Found(read, new EmbeddingQuery(Model, [NearCopy(vectors[7], random)], Threshold)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void An_index_read_for_lookups_with_sign_code_settings_searches_the_saved_sign_codes()
    {
        var random = new Random(37);
        var vectors = Enumerable.Range(0, 300).Select(_ => Features(random)).ToArray();
        using var written = Indexed(vectors, Settings(VectorIndexOptions.SignCodes, minVectors: 100));
        var path = WriteSnapshot(written);
        try
        {
            using var plain = ReadForLookups(path, null);
            using var read = ReadForLookups(path, SignCodeVectors.SavedOnly(candidates: 16));

            Assert.InRange(read.EstimatedBytes, plain.EstimatedBytes + 1, written.EstimatedBytes * 1.05); // the codes are held
            Assert.Empty(read.PrepareVectorIndexes());
            Assert.Contains(Id(7), Found(read, new EmbeddingQuery(Model, [NearCopy(vectors[7], random)], Threshold)));
        }
        finally
        {
            File.Delete(path);
        }

        using var graph = Indexed(vectors, Settings(VectorIndexOptions.Hnsw, minVectors: 100));
        var graphPath = WriteSnapshot(graph);
        try
        {
            using var plain = ReadForLookups(graphPath, null);
            using var read = ReadForLookups(graphPath, SignCodeVectors.SavedOnly(candidates: 16));

            Assert.Equal(plain.EstimatedBytes, read.EstimatedBytes); // a graph is not sign codes: scanned exactly
            Assert.Contains(Id(7), Found(read, new EmbeddingQuery(Model, [NearCopy(vectors[7], random)], Threshold)));
        }
        finally
        {
            File.Delete(graphPath);
        }
    }

    [Fact]
    public void Settings_with_no_threshold_turn_the_index_off()
    {
        Assert.Null(VectorIndexes.Settings(new VectorIndexOptions { MinVectors = 0 }));
        Assert.NotNull(VectorIndexes.Settings(new VectorIndexOptions()));
    }

    [Theory]
    [InlineData(VectorIndexOptions.SignCodes)]
    [InlineData(VectorIndexOptions.Hnsw)]
    public void Claims_of_one_vector_past_the_candidate_count_do_not_crowd_another_partys_opt_out_out(string kind)
    {
        var random = new Random(23);
        var settings = Settings(kind, minVectors: 1_000)!;
        using var index = new MatchingIndex(settings);
        for (var i = 0; i < 1_000; i++)
        {
            index.Add(Claim(i, Features(random)));
        }

        var artwork = Features(random);
        index.Add(Claim(1_000, artwork)); // the artist's "n" (tdm)
        index.BuildVectorIndexes();

        // Later, three times the candidates asked for, on the same vector, saying nothing of tdm.
        var search = new Usage(Preference.Unset, Preference.Unset, Preference.Unset, Preference.Unset, Preference.Yes);
        for (var i = 0; i < 3 * settings.Candidates; i++)
        {
            var crowd = Claim(2_000 + i, artwork);
            index.Add(crowd with { Usage = search });
        }

        index.BuildVectorIndexes();
        var matches = new List<Match>();
        var decision = index.Lookup(null, null, TrustLevel.Signed, matches, embeddings: new EmbeddingQuery(Model, [NearCopy(artwork, random)], Threshold));

        Assert.Equal(Permission.Disallow, decision.Tdm);
        Assert.Equal(Permission.Allow, decision.Search);
    }

    internal static ApproximateVectorSettings? Settings(string kind, int minVectors) =>
        VectorIndexes.Settings(new VectorIndexOptions { Kind = kind, MinVectors = minVectors });

    /// <summary>An index holding claim i on vector i, its approximate index built as <paramref name="settings"/> say.</summary>
    internal static MatchingIndex Indexed(float[][] vectors, ApproximateVectorSettings? settings)
    {
        var index = new MatchingIndex(settings);
        for (var i = 0; i < vectors.Length; i++)
        {
            index.Add(Claim(i, vectors[i]));
        }

        index.BuildVectorIndexes();
        return index;
    }

    private static MatchingIndex ReadForLookups(string path, ApproximateVectorSettings? settings)
    {
        using var reader = new SnapshotReader(path);
        return MatchingIndex.ReadSnapshotForLookups(reader, settings);
    }

    internal static string WriteSnapshot(MatchingIndex index)
    {
        var path = Path.Combine(Path.GetTempPath(), $"vectors-{Guid.NewGuid():n}.snap");
        using var writer = new SnapshotWriter(path, new SnapshotHeader(SnapshotHeader.CurrentFormat, Guid.NewGuid(), index.AppliedSeq, DateTimeOffset.UtcNow));
        index.WriteSnapshot(writer);
        writer.Finish();
        return path;
    }

    internal static MatchingIndex ReadSnapshot(string path, ApproximateVectorSettings? settings)
    {
        try
        {
            using var reader = new SnapshotReader(path);
            return MatchingIndex.ReadSnapshot(reader, settings);
        }
        finally
        {
            File.Delete(path);
        }
    }

    internal static HashSet<string> Found(MatchingIndex index, EmbeddingQuery query)
    {
        var matches = new List<Match>();
        index.Lookup(null, null, TrustLevel.Signed, matches, embeddings: query);
        return matches.Select(m => index.Claim(m.Claim).Id).ToHashSet();
    }

    /// <summary>Claim i's id: i in 64 hex digits (the index holds well-formed ids only).</summary>
    internal static string Id(int i) => $"{i:x64}";

    internal static IndexedClaim Claim(int i, float[] vector) =>
        new(Id(i), i + 1, $"party-{i}", 1_800_000_000, No, TrustLevel.Signed, false,
            [new Subject(SubjectKinds.Embedding, $"{Model} {EmbeddingVector.Encode(vector)}")]);

    /// <summary>A unit vector of non-negative values, most of them small: the shape of GeM-pooled features.</summary>
    internal static float[] Features(Random random)
    {
        var vector = Enumerable.Range(0, Dimensions).Select(_ => (float)Math.Pow(random.NextDouble(), 3)).ToArray();
        return Normalised(vector);
    }

    /// <summary>The vector moved a little (about cosine 0.99): a near copy's embedding.</summary>
    internal static float[] NearCopy(float[] vector, Random random) =>
        Normalised(vector.Select(v => Math.Max(0, v + (float)((random.NextDouble() - 0.5) * 0.012))).ToArray());

    private static float[] Normalised(float[] vector)
    {
        var length = (float)EmbeddingVector.Length(vector);
        return vector.Select(v => v / length).ToArray();
    }
}

using ConsentRegistry.Core.Tests.Matching;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Core.Tests.Embeddings;

/// <summary>Embedding subjects (DESIGN.md 5.7): checked against the registry's models, matched by cosine similarity.</summary>
public sealed class EmbeddingMatchingTests
{
    private const string Model = "test-model-v1";
    private const int Dimensions = 64;
    private static readonly EmbeddingModels Models = EmbeddingModels.Of(Model, Dimensions);
    private static readonly Usage No = new(Preference.No, Preference.Unset, Preference.Unset, Preference.Unset, Preference.Unset);
    private static readonly Usage Yes = new(Preference.Yes, Preference.Unset, Preference.Unset, Preference.Unset, Preference.Unset);

    [Fact]
    public void An_embedding_subject_is_its_model_and_vector_and_reads_back_as_them()
    {
        var value = EmbeddingVector.Encode(Unit(1));

        Assert.True(Subject.TryCreate(SubjectKinds.Embedding, value, null, Model, Models, out var subject, out _, out var error), error);

        Assert.Equal($"{Model} {value}", subject!.Value);
        Assert.Equal((Model, value), Subject.EmbeddingParts(subject.Value));
    }

    [Theory]
    [InlineData(null, "model is required")]
    [InlineData("other-model", "model 'other-model' is not one this registry compares")]
    public void A_vector_of_no_model_or_another_model_is_refused_as_a_model_error(string? model, string expected)
    {
        Assert.False(Subject.TryCreate(SubjectKinds.Embedding, EmbeddingVector.Encode(Unit(1)), null, model, Models, out _, out var field, out var error));
        Assert.Equal("model", field);
        Assert.Contains(expected, error);
    }

    [Fact]
    public void Vectors_of_another_length_not_finite_or_not_of_length_1_are_refused()
    {
        var nan = Unit(1);
        nan[3] = float.NaN;
        var cases = new (string Value, string Expected)[]
        {
            (EmbeddingVector.Encode(new float[Dimensions + 1]), $"{Dimensions} dimensions"),
            (EmbeddingVector.Encode(nan), "not a finite number"),
            (EmbeddingVector.Encode(Unit(1).Select(v => v * 2).ToArray()), "length 1"),
            ("not base64!", "base64url"),
        };

        foreach (var (value, expected) in cases)
        {
            Assert.False(Subject.TryCreate(SubjectKinds.Embedding, value, null, Model, Models, out _, out var field, out var error));
            Assert.Equal(("value", true), (field, error!.Contains(expected, StringComparison.Ordinal)));
        }
    }

    [Fact]
    public void Without_models_no_embedding_is_taken_and_a_model_belongs_to_embeddings_only()
    {
        Assert.False(Subject.TryCreate(SubjectKinds.Embedding, EmbeddingVector.Encode(Unit(1)), null, Model, EmbeddingModels.None, out _, out var noneField, out var none));
        Assert.Equal(("model", "This registry takes no embeddings."), (noneField, none));
        Assert.False(Subject.TryCreate(SubjectKinds.Url, "https://a.example/", null, Model, Models, out _, out var misplacedField, out var misplaced));
        Assert.Equal(("model", "model applies only to embedding subjects."), (misplacedField, misplaced));
    }

    [Fact]
    public void A_lookup_matches_claimed_vectors_at_or_above_the_threshold_with_the_best_similarity_over_its_vectors()
    {
        var claimed = Unit(1);
        var index = new MatchingIndex();
        index.Add(Claim("claim-a", 1, "artist", No, claimed));
        var near = Towards(claimed, Unit(2), 0.95f);
        var far = Unit(3);

        var matches = new List<Match>();
        var decision = index.Lookup(null, null, TrustLevel.Signed, matches, embeddings: new EmbeddingQuery(Model, [far, near], 0.9f));

        var match = Assert.Single(matches);
        Assert.Equal(MatchKind.Embedding, match.By);
        Assert.InRange(match.Similarity, 0.94f, 0.96f); // the near vector's, not the far one's
        Assert.Equal(Permission.Disallow, decision.Tdm);

        Assert.Empty(Lookup(index, new EmbeddingQuery(Model, [near], 0.97f)));
        Assert.Empty(Lookup(index, new EmbeddingQuery("another-model", [claimed], 0.5f)));
    }

    [Fact]
    public void A_revoked_claim_stops_matching_and_a_partys_later_claim_on_the_same_vector_wins()
    {
        var vector = Unit(4);
        var index = new MatchingIndex();
        index.Add(Claim("first", 1, "artist", No, vector));
        index.Add(Claim("second", 2, "artist", Yes, vector, iat: 1_800_000_100));
        index.Add(Claim("other-party", 3, "platform", No, vector));

        List<string> Listed() => Lookup(index, new EmbeddingQuery(Model, [vector], 0.99f)).Select(m => TestClaimIds.Name(index.Claim(m.Claim).Id)).Order().ToList();

        Assert.Equal(["other-party", "second"], Listed());
        index.Revoke(TestClaimIds.Of("other-party"), 4);
        Assert.Equal(["second"], Listed());
    }

    [Fact]
    public void Vectors_taken_near_length_1_are_compared_as_unit_vectors_so_a_longer_claim_vector_reaches_no_further()
    {
        // Both are accepted (within 0.01 of length 1); as sent, their dot product would be 1.0099 × 0.975 = 0.985.
        var probe = Unit(1);
        var claimed = Towards(probe, Unit(2), 0.975f).Select(v => v * 1.0099f).ToArray();
        Assert.True(Subject.TryCreate(SubjectKinds.Embedding, EmbeddingVector.Encode(claimed), null, Model, Models, out _, out _, out var error), error);
        var index = new MatchingIndex();
        index.Add(Claim("long", 1, "artist", No, claimed));

        Assert.Empty(Lookup(index, new EmbeddingQuery(Model, [Read(probe)], 0.98f)));
        Assert.InRange(Assert.Single(Lookup(index, new EmbeddingQuery(Model, [Read(probe)], 0.97f))).Similarity, 0.974f, 0.976f);
    }

    [Fact]
    public void An_images_own_vector_reaches_a_min_similarity_of_1_whatever_the_lengths_sent()
    {
        var vector = Unit(5);
        var index = new MatchingIndex();
        index.Add(Claim("own", 1, "artist", No, vector.Select(v => v * 0.995f).ToArray()));

        var match = Assert.Single(Lookup(index, new EmbeddingQuery(Model, [Read(vector.Select(v => v * 0.995f).ToArray())], 1f)));
        Assert.Equal(1f, match.Similarity);
    }

    /// <summary>A vector as a lookup item brings it: encoded, then read by the registry's models.</summary>
    private static float[] Read(float[] vector)
    {
        Assert.True(Models.TryRead(Model, EmbeddingVector.Encode(vector), out var read, out _, out var error), error);
        return read;
    }

    private static List<Match> Lookup(MatchingIndex index, EmbeddingQuery query)
    {
        var matches = new List<Match>();
        index.Lookup(null, null, TrustLevel.Signed, matches, embeddings: query);
        return matches;
    }

    private static IndexedClaim Claim(string id, long seq, string party, Usage usage, float[] vector, long iat = 1_800_000_000) =>
        new(TestClaimIds.Of(id), seq, party, iat, usage, TrustLevel.Signed, false, [new Subject(SubjectKinds.Embedding, $"{Model} {EmbeddingVector.Encode(vector)}")]);

    /// <summary>A random unit vector.</summary>
    private static float[] Unit(int seed)
    {
        var random = new Random(seed);
        var vector = Enumerable.Range(0, Dimensions).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        return Normalised(vector);
    }

    /// <summary>A unit vector at cosine <paramref name="similarity"/> from <paramref name="from"/>, in the plane of <paramref name="other"/>.</summary>
    private static float[] Towards(float[] from, float[] other, float similarity)
    {
        var dot = EmbeddingVector.Dot(from, other);
        var orthogonal = Normalised(other.Select((v, i) => v - (dot * from[i])).ToArray());
        var sine = MathF.Sqrt(1 - (similarity * similarity));
        return Normalised(from.Select((v, i) => (similarity * v) + (sine * orthogonal[i])).ToArray());
    }

    private static float[] Normalised(float[] vector)
    {
        var length = (float)EmbeddingVector.Length(vector);
        return vector.Select(v => v / length).ToArray();
    }
}

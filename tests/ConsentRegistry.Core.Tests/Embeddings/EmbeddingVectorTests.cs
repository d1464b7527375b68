using ConsentRegistry.Core.Embeddings;

namespace ConsentRegistry.Core.Tests.Embeddings;

public sealed class EmbeddingVectorTests
{
    [Fact]
    public void A_vector_survives_the_half_precision_wire_form_to_within_a_thousandth_of_cosine()
    {
        var random = new Random(3);
        var vector = Enumerable.Range(0, 512).Select(_ => (float)((random.NextDouble() * 2) - 1) / 20).ToArray();

        var wire = EmbeddingVector.Encode(vector);

        Assert.Equal(1366, wire.Length); // 1,024 bytes, unpadded base64url
        Assert.DoesNotContain('=', wire);
        Assert.True(EmbeddingVector.TryDecode(wire, 512, out var decoded, out _));
        Assert.True(EmbeddingVector.Cosine(vector, decoded) > 0.999f);
    }

    [Theory]
    [InlineData("not base64!", "base64url")]
    [InlineData("AAAA", "512 dimensions")]
    [InlineData("", "base64url")]
    public void A_bad_value_is_refused_with_a_reason(string value, string expected)
    {
        Assert.False(EmbeddingVector.TryDecode(value, 512, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Not_a_number_and_infinity_are_refused()
    {
        var vector = new float[4];
        vector[2] = float.NaN;
        Assert.False(EmbeddingVector.TryDecode(EmbeddingVector.Encode(vector), 4, out _, out var error));
        Assert.Contains("Dimension 2", error, StringComparison.Ordinal);

        vector[2] = float.PositiveInfinity;
        Assert.False(EmbeddingVector.TryDecode(EmbeddingVector.Encode(vector), 4, out _, out _));
    }
}

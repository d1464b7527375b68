using System.Numerics.Tensors;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Api.Tests.Lookup;

/// <summary>
/// The rotation the approximate vector index applies before it cuts and rounds: orthonormal (a full
/// one keeps every length and cosine), the same in every instance (a saved index is searched with
/// the projection it was built with), and an int8 form that keeps cosines of unit vectors.
/// </summary>
public sealed class VectorProjectionTests
{
    [Fact]
    public void A_full_rotation_keeps_lengths_and_cosines()
    {
        var projection = new VectorProjection(64, 64);
        var random = new Random(3);
        for (var i = 0; i < 50; i++)
        {
            var a = Vector(random, 64);
            var b = Vector(random, 64);
            var (pa, pb) = (new float[64], new float[64]);
            projection.Project(a, pa);
            projection.Project(b, pb);
            Assert.Equal(TensorPrimitives.Norm(a), TensorPrimitives.Norm(pa), 4);
            Assert.Equal(TensorPrimitives.Dot(a, b), TensorPrimitives.Dot(pa, pb), 4);
        }
    }

    [Fact]
    public void Two_instances_project_alike_and_a_cut_keeps_the_first_coordinates_of_the_full_rotation()
    {
        var vector = Vector(new Random(5), 512);
        var (full, cut, again) = (new float[512], new float[128], new float[128]);
        new VectorProjection(512, 512).Project(vector, full);
        new VectorProjection(512, 128).Project(vector, cut);
        new VectorProjection(512, 128).Project(vector, again);

        Assert.Equal(cut, again);
        Assert.Equal(full[..128], cut); // Gram–Schmidt makes row k from rows 0..k only
    }

    [Fact]
    public void The_int8_form_of_non_negative_features_keeps_their_cosines_to_within_a_few_hundredths()
    {
        // Non-negative, most of the length along the common mean: the shape int8 of the raw values rounds badly.
        var projection = new VectorProjection(512, 256);
        var random = new Random(9);
        var largestError = 0.0;
        for (var i = 0; i < 100; i++)
        {
            var a = Features(random, 512);
            var b = i % 2 == 0 ? Features(random, 512) : Nudged(a, random);
            var (qa, qb) = (new sbyte[256], new sbyte[256]);
            projection.Quantize(a, qa);
            projection.Quantize(b, qb);
            largestError = Math.Max(largestError, Math.Abs(Cosine(qa, qb) - TensorPrimitives.CosineSimilarity(a, b)));
        }

        Assert.InRange(largestError, 0.0, 0.08);
    }

    [Fact]
    public void A_zero_vector_rounds_to_zero_and_coordinates_are_clipped_to_127()
    {
        var projection = new VectorProjection(8, 8);
        var quantized = new sbyte[8];
        projection.Quantize(new float[8], quantized);
        Assert.All(quantized, value => Assert.Equal(0, value));

        projection.Quantize([1, 0, 0, 0, 0, 0, 0, 0], quantized); // all the length on one axis: several coordinates past five deviations
        Assert.All(quantized, value => Assert.InRange(value, (sbyte)-127, (sbyte)127));
        Assert.Contains(quantized, value => Math.Abs(value) > 20);
    }

    [Fact]
    public void A_setting_longer_than_the_model_keeps_the_model_length()
    {
        Assert.Equal(32, new VectorProjection(32, 256).Dimensions);
        Assert.Throws<ArgumentException>(() => new VectorProjection(32, 16).Project(new float[31], new float[16]));
    }

    private static float[] Vector(Random random, int length) =>
        Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();

    private static float[] Features(Random random, int length) =>
        Unit(Enumerable.Range(0, length).Select(_ => (float)Math.Pow(random.NextDouble(), 3)).ToArray());

    private static float[] Nudged(float[] vector, Random random) =>
        Unit(vector.Select(v => Math.Max(0, v + (float)((random.NextDouble() - 0.5) * 0.02))).ToArray());

    private static float[] Unit(float[] vector)
    {
        var length = TensorPrimitives.Norm(vector);
        return vector.Select(v => v / length).ToArray();
    }

    private static double Cosine(sbyte[] a, sbyte[] b)
    {
        double dot = 0, aa = 0, bb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            aa += a[i] * a[i];
            bb += b[i] * b[i];
        }

        return dot / Math.Sqrt(aa * bb);
    }
}

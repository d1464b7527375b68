using System.Numerics.Tensors;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// What the approximate vector index holds of a claimed vector: the vector turned by a fixed random
/// rotation and cut to its first <see cref="Dimensions"/> coordinates (a Johnson–Lindenstrauss
/// projection: cosines are kept to within a few hundredths at 256 of 512), then rounded to int8.
/// The rotation spreads every vector's length evenly over the coordinates, whatever the model:
/// pooled image features are non-negative and most of their length lies along their common mean,
/// which int8 of the raw values would round to a handful of levels. The index only proposes
/// candidates; each is re-checked against the vector itself, so the projection costs recall
/// (measured in docs/benchmarks.md), never a false match.
/// </summary>
/// <remarks>
/// The rotation is generated, not stored: rows of ±1 from a fixed SplitMix64 sequence, made
/// orthonormal by Gram–Schmidt in double precision (twice, for a full rotation's sake). The same
/// arithmetic in the same order gives the same rows on every IEEE machine, so an index saved by one
/// process is searched with the same projection by the next; <see cref="Layout"/> names the recipe.
/// </remarks>
public sealed class VectorProjection
{
    /// <summary>Coordinates more than this many standard deviations out are clipped to ±127.</summary>
    private const float ClipDeviations = 5f;

    private const ulong Seed = 0x5EED_C0DE_2026_1205;

    private readonly float[] _rows;

    public VectorProjection(int inputDimensions, int dimensions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputDimensions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        InputDimensions = inputDimensions;
        Dimensions = Math.Min(dimensions, inputDimensions);
        _rows = Orthonormal(Dimensions, inputDimensions);
    }

    /// <summary>The length of the vectors projected.</summary>
    public int InputDimensions { get; }

    /// <summary>The length of a projected vector: the setting, or the input length if that is shorter.</summary>
    public int Dimensions { get; }

    /// <summary>The recipe's name, kept beside a saved index: a different name means a different projection.</summary>
    public string Layout => LayoutOf(InputDimensions, Dimensions);

    /// <summary>The <see cref="Layout"/> of a projection of <paramref name="inputDimensions"/> to <paramref name="dimensions"/>, without making it.</summary>
    public static string LayoutOf(int inputDimensions, int dimensions) => $"rotation-pm1-gs2-v1 {inputDimensions}>{Math.Min(dimensions, inputDimensions)}";

    /// <summary>The projection of <paramref name="vector"/> (length <see cref="InputDimensions"/>) into <paramref name="into"/>.</summary>
    public void Project(ReadOnlySpan<float> vector, Span<float> into)
    {
        if (vector.Length != InputDimensions || into.Length < Dimensions)
        {
            throw new ArgumentException($"Expected a vector of {InputDimensions} into room for {Dimensions}.");
        }

        for (var row = 0; row < Dimensions; row++)
        {
            into[row] = TensorPrimitives.Dot(_rows.AsSpan(row * InputDimensions, InputDimensions), vector);
        }
    }

    /// <summary>
    /// The projection rounded to int8: a unit vector's coordinates after a random rotation are about
    /// normal with deviation 1/√d, so 127 is put at <see cref="ClipDeviations"/> deviations of the
    /// vector's own length. A zero vector stays zero.
    /// </summary>
    public void Quantize(ReadOnlySpan<float> vector, Span<sbyte> into)
    {
        Span<float> projected = Dimensions <= 1024 ? stackalloc float[Dimensions] : new float[Dimensions];
        Project(vector, projected);
        var length = TensorPrimitives.Norm(vector);
        var scale = length > 0 ? 127f * MathF.Sqrt(InputDimensions) / (ClipDeviations * length) : 0f;
        for (var i = 0; i < Dimensions; i++)
        {
            into[i] = (sbyte)Math.Clamp(MathF.Round(projected[i] * scale), -127f, 127f);
        }
    }

    /// <summary><paramref name="count"/> orthonormal rows of length <paramref name="length"/>, from ±1 rows.</summary>
    private static float[] Orthonormal(int count, int length)
    {
        var random = new SplitMix64(Seed);
        var rows = new double[count][];
        for (var row = 0; row < count; row++)
        {
            var v = new double[length];
            for (var i = 0; i < length; i++)
            {
                v[i] = (random.Next() & 1) == 0 ? 1.0 : -1.0;
            }

            // Modified Gram–Schmidt, two passes: one leaves errors of order machine epsilon times the
            // condition number, which a full square rotation of ±1 rows can make large.
            for (var pass = 0; pass < 2; pass++)
            {
                for (var earlier = 0; earlier < row; earlier++)
                {
                    var q = rows[earlier];
                    var dot = 0.0;
                    for (var i = 0; i < length; i++)
                    {
                        dot += v[i] * q[i];
                    }

                    for (var i = 0; i < length; i++)
                    {
                        v[i] -= dot * q[i];
                    }
                }
            }

            var norm = 0.0;
            for (var i = 0; i < length; i++)
            {
                norm += v[i] * v[i];
            }

            norm = Math.Sqrt(norm);
            for (var i = 0; i < length; i++)
            {
                v[i] /= norm;
            }

            rows[row] = v;
        }

        var flat = new float[count * length];
        for (var row = 0; row < count; row++)
        {
            for (var i = 0; i < length; i++)
            {
                flat[(row * length) + i] = (float)rows[row][i];
            }
        }

        return flat;
    }
}

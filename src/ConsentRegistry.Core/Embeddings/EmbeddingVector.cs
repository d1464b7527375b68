using System.Buffers.Binary;
using System.Numerics;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Core.Embeddings;

/// <summary>
/// An image embedding on the wire: unpadded base64url of little-endian IEEE 754 half-precision
/// floats, one per dimension (DESIGN.md 5.3). Half precision keeps a 512-dimension vector at
/// 1 KiB (1,366 characters) and moves a cosine similarity by well under 0.001.
/// </summary>
public static class EmbeddingVector
{
    /// <summary>The longest vector accepted (8 KiB as half floats).</summary>
    public const int MaxDimensions = 4096;

    public static string Encode(ReadOnlySpan<float> vector)
    {
        var bytes = new byte[vector.Length * 2];
        for (var i = 0; i < vector.Length; i++)
        {
            BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)vector[i]);
        }

        return Base64Url.Encode(bytes);
    }

    /// <summary>
    /// Reads a vector of <paramref name="dimensions"/> values; refuses bad base64url, another
    /// length, and values that are not finite (NaN, infinities), with a sentence saying which.
    /// </summary>
    public static bool TryDecode(string? value, int dimensions, out float[] vector, out string? error)
    {
        vector = [];
        if (string.IsNullOrEmpty(value) || value.Length > ((MaxDimensions * 2 * 4) / 3) + 4 || !Base64Url.TryDecode(value, out var bytes))
        {
            error = "An embedding value is unpadded base64url of little-endian half-precision floats.";
            return false;
        }

        if (bytes.Length != dimensions * 2)
        {
            error = $"This model's embeddings have {dimensions} dimensions ({dimensions * 2} bytes); the value has {bytes.Length} bytes.";
            return false;
        }

        vector = new float[dimensions];
        for (var i = 0; i < dimensions; i++)
        {
            var half = BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(i * 2));
            if (!Half.IsFinite(half))
            {
                vector = [];
                error = $"Dimension {i} of the embedding is not a finite number.";
                return false;
            }

            vector[i] = (float)half;
        }

        error = null;
        return true;
    }

    /// <summary>The number of dimensions a well-formed value of <paramref name="length"/> characters holds (unpadded base64url: 4 characters a 3 bytes, 2 bytes a dimension).</summary>
    public static int DimensionsOf(int length) => length * 3 / 4 / 2;

    /// <summary>
    /// How far below a threshold a similarity may fall and still reach it: a vector kept in half
    /// precision after it was scaled to length 1 moves a dot product by about 10⁻⁵, and an image's
    /// own vector must still reach a <c>min_similarity</c> of 1.
    /// </summary>
    public const float SimilarityTolerance = 1e-4f;

    /// <summary>Reads a value already checked (a stored subject) as however many dimensions it holds, scaled to length 1; empty if it is not well formed.</summary>
    public static float[] DecodeStored(string value)
    {
        if (!TryDecode(value, DimensionsOf(value.Length), out var vector, out _))
        {
            return [];
        }

        Normalise(vector);
        return vector;
    }

    /// <summary>
    /// Scales <paramref name="vector"/> to length 1 (a zero vector stays zero). Vectors are taken
    /// within 0.01 of length 1, which half precision cannot do better than; compared as sent, a
    /// claim's vector of length 1.0099 would reach 0.98 against pictures only 0.970 alike.
    /// </summary>
    public static void Normalise(Span<float> vector)
    {
        var length = Length(vector);
        if (length == 0)
        {
            return;
        }

        var scale = (float)(1 / length);
        foreach (ref var x in vector)
        {
            x *= scale;
        }
    }

    /// <summary>The Euclidean length of <paramref name="vector"/>.</summary>
    public static double Length(ReadOnlySpan<float> vector)
    {
        double squares = 0;
        foreach (var x in vector)
        {
            squares += x * x;
        }

        return Math.Sqrt(squares);
    }

    /// <summary>The dot product of two vectors of equal length: their cosine similarity when both have length 1 (<see cref="Normalise"/>).</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = Vector<float>.Zero;
        var i = 0;
        for (; i <= a.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            sum += new Vector<float>(a[i..]) * new Vector<float>(b[i..]);
        }

        var dot = Vector.Sum(sum);
        for (; i < a.Length; i++)
        {
            dot += a[i] * b[i];
        }

        return dot;
    }

    /// <summary>The cosine similarity of two vectors of equal length; 0 when either is all zeros.</summary>
    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException("Vectors of different lengths have no cosine similarity.", nameof(b));
        }

        double dot = 0, normA = 0, normB = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            normA += a[i] * a[i];
            normB += b[i] * b[i];
        }

        return normA == 0 || normB == 0 ? 0f : (float)(dot / Math.Sqrt(normA * normB));
    }
}

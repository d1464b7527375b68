using System.Globalization;
using System.Numerics.Tensors;

namespace ConsentRegistry.VectorIndex;

/// <summary>
/// Vectors shaped like the bundled model's GeM output: non-negative (squared half-normal components),
/// L2-normalised, one in a hundred a near copy of an earlier one; queries are near copies (noise 0.15)
/// of random vectors.
/// </summary>
public sealed class SyntheticVectors(int seed, int dimensions)
{
    private readonly Random _random = new(seed);

    public float[][] Data(int count)
    {
        var data = new float[count][];
        for (var i = 0; i < count; i++)
        {
            data[i] = i % 100 == 99 ? NearCopy(data[_random.Next(i)]) : Feature();
        }

        return data;
    }

    public float[][] Queries(float[][] data, int count) =>
        Enumerable.Range(0, count).Select(_ => NearCopy(data[_random.Next(data.Length)])).ToArray();

    public static long ResidentBytes() =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;

    /// <summary>
    /// After a full collection: the live managed heap, and the resident memory outside the heap the
    /// collector has committed (native allocations such as USearch's graph, plus the runtime's own).
    /// </summary>
    public static (long Managed, long Native) ManagedAndNativeBytes()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        var managed = GC.GetTotalMemory(forceFullCollection: false);
        return (managed, ResidentBytes() - GC.GetGCMemoryInfo().TotalCommittedBytes);
    }

    private float[] Feature()
    {
        var v = new float[dimensions];
        for (var i = 0; i < dimensions; i++)
        {
            var g = Gaussian();
            v[i] = g > 0 ? g * g : 0;
        }

        return Normalised(v);
    }

    private float[] NearCopy(float[] of)
    {
        var v = new float[dimensions];
        for (var i = 0; i < dimensions; i++)
        {
            v[i] = Math.Max(0, of[i] + (0.15f * Gaussian() / MathF.Sqrt(dimensions)));
        }

        return Normalised(v);
    }

    private float Gaussian() => (float)(Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble()));

    private static float[] Normalised(float[] v)
    {
        var length = MathF.Sqrt(TensorPrimitives.Dot<float>(v, v));
        TensorPrimitives.Divide(v, length, v);
        return v;
    }
}

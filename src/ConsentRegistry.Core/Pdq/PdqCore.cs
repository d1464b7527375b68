using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ConsentRegistry.Core.Pdq;

/// <summary>
/// The reference's hashing steps on a luminance buffer, in the same single/double precision and the same
/// order of operations, so the bits come out identical. Vector code only runs independent lanes side by
/// side (no reassociation, no fused multiply-add).
/// </summary>
internal static class PdqCore
{
    private const int JaroszPasses = 2;
    private const int Down = 64;
    private const int Dct = 16;

    // Rows 1..16 of the 64-point DCT-II matrix, row-major [16][64]: (float)(sqrt(2/64) as float · cos(...)).
    private static readonly float[] DctMatrix = BuildDctMatrix();

    // Its transpose [64][16], so the second product runs along contiguous memory.
    private static readonly float[] DctMatrixT = Transpose(DctMatrix, Dct, Down);

    private static float[] BuildDctMatrix()
    {
        float scale = (float)Math.Sqrt(2.0 / Down);
        var m = new float[Dct * Down];
        for (int i = 0; i < Dct; i++)
        {
            for (int j = 0; j < Down; j++)
            {
                m[i * Down + j] = (float)(scale * Math.Cos(Math.PI / 2.0 / Down * (i + 1) * (2 * j + 1)));
            }
        }

        return m;
    }

    private static float[] Transpose(float[] m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < cols; j++)
            {
                t[j * rows + i] = m[i * cols + j];
            }
        }

        return t;
    }

    /// <summary>
    /// Hashes <paramref name="buffer1"/> (rows × cols luminance, overwritten; both at least 5) into
    /// <paramref name="output"/>: 1 hash (the reference's plain path) or 8 (its dihedral path). Returns the quality.
    /// </summary>
    public static int HashFromLuma(float[] buffer1, float[] buffer2, int rows, int cols, Span<PdqHash> output)
    {
        Span<float> down = stackalloc float[Down * Down];
        if (rows == Down && cols == Down && output.Length == 1)
        {
            // The reference's plain path takes a 64×64 input as the downsample itself.
            buffer1.AsSpan(0, Down * Down).CopyTo(down);
        }
        else
        {
            int windowAlongRows = JaroszWindowSize(cols, Down);
            int windowAlongCols = JaroszWindowSize(rows, Down);
            for (int pass = 0; pass < JaroszPasses; pass++)
            {
                BoxAlongRows(buffer1, buffer2, rows, cols, windowAlongRows);
                BoxAlongCols(buffer2, buffer1, rows, cols, windowAlongCols);
            }

            Decimate(buffer1, rows, cols, down);
        }

        int quality = Quality(down);

        Span<float> dct = stackalloc float[Dct * Dct];
        Dct64To16(down, dct);

        output[0] = ToBits(dct);
        if (output.Length > 1)
        {
            Span<float> aux = stackalloc float[Dct * Dct];
            for (int t = 1; t < output.Length; t++)
            {
                Transform(dct, aux, (PdqDihedralTransform)t);
                output[t] = ToBits(aux);
            }
        }

        return quality;
    }

    /// <summary>⌈old / (2·new)⌉: half a target pixel per pass, two passes.</summary>
    internal static int JaroszWindowSize(int oldDimension, int newDimension) =>
        (oldDimension + 2 * newDimension - 1) / (2 * newDimension);

    // One 1-D box filter of the reference (box1DFloat): windows shrink at both ends, centred as the
    // reference centres them (window 7 → 3 before, 3 after; window 8 → 4 before, 3 after).
    // Rows are independent; four run interleaved so their running sums' latencies overlap.
    private static void BoxAlongRows(float[] input, float[] output, int rows, int cols, int window)
    {
        int half = (window + 2) / 2;
        int phase1 = half - 1;
        int phase2 = window - half + 1;
        int phase3 = cols - window;
        int phase4 = half - 1;
        ref float src0 = ref MemoryMarshal.GetArrayDataReference(input);
        ref float dst0 = ref MemoryMarshal.GetArrayDataReference(output);
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            ref float a = ref Unsafe.Add(ref src0, r * cols);
            ref float b = ref Unsafe.Add(ref a, cols);
            ref float c = ref Unsafe.Add(ref b, cols);
            ref float d = ref Unsafe.Add(ref c, cols);
            ref float oa = ref Unsafe.Add(ref dst0, r * cols);
            ref float ob = ref Unsafe.Add(ref oa, cols);
            ref float oc = ref Unsafe.Add(ref ob, cols);
            ref float od = ref Unsafe.Add(ref oc, cols);
            nint li = 0, ri = 0, oi = 0;
            int size = 0;
            float sa = 0.0f, sb = 0.0f, sc = 0.0f, sd = 0.0f;
            for (int i = 0; i < phase1; i++, ri++)
            {
                sa += Unsafe.Add(ref a, ri);
                sb += Unsafe.Add(ref b, ri);
                sc += Unsafe.Add(ref c, ri);
                sd += Unsafe.Add(ref d, ri);
                size++;
            }

            for (int i = 0; i < phase2; i++, ri++, oi++)
            {
                sa += Unsafe.Add(ref a, ri);
                sb += Unsafe.Add(ref b, ri);
                sc += Unsafe.Add(ref c, ri);
                sd += Unsafe.Add(ref d, ri);
                size++;
                float n = size;
                Unsafe.Add(ref oa, oi) = sa / n;
                Unsafe.Add(ref ob, oi) = sb / n;
                Unsafe.Add(ref oc, oi) = sc / n;
                Unsafe.Add(ref od, oi) = sd / n;
            }

            float full = size;
            for (int i = 0; i < phase3; i++, ri++, li++, oi++)
            {
                sa += Unsafe.Add(ref a, ri);
                sb += Unsafe.Add(ref b, ri);
                sc += Unsafe.Add(ref c, ri);
                sd += Unsafe.Add(ref d, ri);
                sa -= Unsafe.Add(ref a, li);
                sb -= Unsafe.Add(ref b, li);
                sc -= Unsafe.Add(ref c, li);
                sd -= Unsafe.Add(ref d, li);
                Unsafe.Add(ref oa, oi) = sa / full;
                Unsafe.Add(ref ob, oi) = sb / full;
                Unsafe.Add(ref oc, oi) = sc / full;
                Unsafe.Add(ref od, oi) = sd / full;
            }

            for (int i = 0; i < phase4; i++, li++, oi++)
            {
                sa -= Unsafe.Add(ref a, li);
                sb -= Unsafe.Add(ref b, li);
                sc -= Unsafe.Add(ref c, li);
                sd -= Unsafe.Add(ref d, li);
                size--;
                float n = size;
                Unsafe.Add(ref oa, oi) = sa / n;
                Unsafe.Add(ref ob, oi) = sb / n;
                Unsafe.Add(ref oc, oi) = sc / n;
                Unsafe.Add(ref od, oi) = sd / n;
            }
        }

        for (; r < rows; r++)
        {
            ref float src = ref Unsafe.Add(ref src0, r * cols);
            ref float dst = ref Unsafe.Add(ref dst0, r * cols);
            nint li = 0, ri = 0, oi = 0;
            int size = 0;
            float sum = 0.0f;
            for (int i = 0; i < phase1; i++)
            {
                sum += Unsafe.Add(ref src, ri++);
                size++;
            }

            for (int i = 0; i < phase2; i++)
            {
                sum += Unsafe.Add(ref src, ri++);
                size++;
                Unsafe.Add(ref dst, oi++) = sum / size;
            }

            for (int i = 0; i < phase3; i++)
            {
                sum += Unsafe.Add(ref src, ri++);
                sum -= Unsafe.Add(ref src, li++);
                Unsafe.Add(ref dst, oi++) = sum / size;
            }

            for (int i = 0; i < phase4; i++)
            {
                sum -= Unsafe.Add(ref src, li++);
                size--;
                Unsafe.Add(ref dst, oi++) = sum / size;
            }
        }
    }

    // The same filter down each column. Columns are independent, so the running sums of a whole row of
    // columns advance together, one input row at a time (vectors across columns, memory read in order);
    // each column still sees exactly the reference's sequence of additions, subtractions and divisions.
    private static void BoxAlongCols(float[] input, float[] output, int rows, int cols, int window)
    {
        int half = (window + 2) / 2;
        int phase1 = half - 1;
        int phase2 = window - half + 1;
        int phase3 = rows - window;
        int phase4 = half - 1;
        float[]? rented = null;
        Span<float> sums = cols <= 2048 ? stackalloc float[cols] : (rented = ArrayPool<float>.Shared.Rent(cols)).AsSpan(0, cols);
        try
        {
            sums.Clear();
            ReadOnlySpan<float> none = default;
            int li = 0, ri = 0, oi = 0, size = 0;
            for (int i = 0; i < phase1; i++)
            {
                AccumulateRow(sums, input.AsSpan(ri++ * cols, cols), none, default, 0);
                size++;
            }

            for (int i = 0; i < phase2; i++)
            {
                size++;
                AccumulateRow(sums, input.AsSpan(ri++ * cols, cols), none, output.AsSpan(oi++ * cols, cols), size);
            }

            for (int i = 0; i < phase3; i++)
            {
                AccumulateRow(
                    sums, input.AsSpan(ri++ * cols, cols), input.AsSpan(li++ * cols, cols), output.AsSpan(oi++ * cols, cols), size);
            }

            for (int i = 0; i < phase4; i++)
            {
                size--;
                AccumulateRow(sums, none, input.AsSpan(li++ * cols, cols), output.AsSpan(oi++ * cols, cols), size);
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<float>.Shared.Return(rented);
            }
        }
    }

    // sums += add (when given); sums -= subtract (when given); output = sums / divisor (when given).
    private static void AccumulateRow(
        Span<float> sums, ReadOnlySpan<float> add, ReadOnlySpan<float> subtract, Span<float> output, int divisor)
    {
        int n = sums.Length;
        bool adding = !add.IsEmpty, subtracting = !subtract.IsEmpty, writing = !output.IsEmpty;
        ref float s0 = ref MemoryMarshal.GetReference(sums);
        ref float a0 = ref MemoryMarshal.GetReference(add);
        ref float b0 = ref MemoryMarshal.GetReference(subtract);
        ref float o0 = ref MemoryMarshal.GetReference(output);
        float d = divisor;
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int lanes = Vector<float>.Count;
            var dv = new Vector<float>(d);
            for (; j + lanes <= n; j += lanes)
            {
                var sum = Load(ref s0, j);
                if (adding)
                {
                    sum += Load(ref a0, j);
                }

                if (subtracting)
                {
                    sum -= Load(ref b0, j);
                }

                Store(sum, ref s0, j);
                if (writing)
                {
                    Store(sum / dv, ref o0, j);
                }
            }
        }

        for (; j < n; j++)
        {
            float sum = Unsafe.Add(ref s0, j);
            if (adding)
            {
                sum += Unsafe.Add(ref a0, j);
            }

            if (subtracting)
            {
                sum -= Unsafe.Add(ref b0, j);
            }

            Unsafe.Add(ref s0, j) = sum;
            if (writing)
            {
                Unsafe.Add(ref o0, j) = sum / d;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Load(ref float origin, nint offset) =>
        Unsafe.ReadUnaligned<Vector<float>>(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref origin, offset)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector<float> value, ref float origin, nint offset) =>
        Unsafe.WriteUnaligned(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref origin, offset)), value);

    // Samples the filtered image at the centres of a 64×64 grid.
    private static void Decimate(float[] input, int rows, int cols, Span<float> output)
    {
        Span<int> colIndex = stackalloc int[Down];
        for (int j = 0; j < Down; j++)
        {
            colIndex[j] = (int)((j + 0.5) * cols / Down);
        }

        for (int i = 0; i < Down; i++)
        {
            int rowStart = (int)((i + 0.5) * rows / Down) * cols;
            for (int j = 0; j < Down; j++)
            {
                output[i * Down + j] = input[rowStart + colIndex[j]];
            }
        }
    }

    // Sum of quantised vertical and horizontal gradients of the 64×64 downsample, over 90, capped at 100.
    internal static int Quality(ReadOnlySpan<float> down)
    {
        int gradientSum = 0;
        for (int i = 0; i < Down - 1; i++)
        {
            for (int j = 0; j < Down; j++)
            {
                float u = down[i * Down + j];
                float v = down[(i + 1) * Down + j];
                int d = (int)((u - v) * 100 / 255);
                gradientSum += Math.Abs(d);
            }
        }

        for (int i = 0; i < Down; i++)
        {
            for (int j = 0; j < Down - 1; j++)
            {
                float u = down[i * Down + j];
                float v = down[i * Down + j + 1];
                int d = (int)((u - v) * 100 / 255);
                gradientSum += Math.Abs(d);
            }
        }

        int quality = gradientSum / 90;
        return quality > 100 ? 100 : quality;
    }

    // B = D·A·Dᵀ with D the 16×64 DCT matrix, each sum accumulated in float in increasing k as the reference does.
    private static void Dct64To16(ReadOnlySpan<float> a, Span<float> b)
    {
        Span<float> t = stackalloc float[Dct * Down];
        ref float a0 = ref MemoryMarshal.GetReference(a);
        ref float t0 = ref MemoryMarshal.GetReference(t);
        ref float b0 = ref MemoryMarshal.GetReference(b);
        ref float d0 = ref MemoryMarshal.GetArrayDataReference(DctMatrix);
        ref float dt0 = ref MemoryMarshal.GetArrayDataReference(DctMatrixT);
        int lanes = Vector<float>.Count;
        bool vector = Vector.IsHardwareAccelerated && Dct % lanes == 0;

        // T[i][j] = Σ_k D[i][k]·A[k][j]
        for (int i = 0; i < Dct; i++)
        {
            ref float dRow = ref Unsafe.Add(ref d0, i * Down);
            ref float tRow = ref Unsafe.Add(ref t0, i * Down);
            if (vector)
            {
                for (int j = 0; j < Down; j += lanes)
                {
                    var sum = Vector<float>.Zero;
                    for (int k = 0; k < Down; k++)
                    {
                        sum += new Vector<float>(Unsafe.Add(ref dRow, k)) * Load(ref a0, k * Down + j);
                    }

                    Store(sum, ref tRow, j);
                }
            }
            else
            {
                for (int j = 0; j < Down; j++)
                {
                    float sum = 0.0f;
                    for (int k = 0; k < Down; k++)
                    {
                        sum += Unsafe.Add(ref dRow, k) * Unsafe.Add(ref a0, k * Down + j);
                    }

                    Unsafe.Add(ref tRow, j) = sum;
                }
            }
        }

        // B[i][j] = Σ_k T[i][k]·D[j][k] = Σ_k T[i][k]·Dᵀ[k][j]
        for (int i = 0; i < Dct; i++)
        {
            ref float tRow = ref Unsafe.Add(ref t0, i * Down);
            ref float bRow = ref Unsafe.Add(ref b0, i * Dct);
            if (vector)
            {
                for (int j = 0; j < Dct; j += lanes)
                {
                    var sum = Vector<float>.Zero;
                    for (int k = 0; k < Down; k++)
                    {
                        sum += new Vector<float>(Unsafe.Add(ref tRow, k)) * Load(ref dt0, k * Dct + j);
                    }

                    Store(sum, ref bRow, j);
                }
            }
            else
            {
                for (int j = 0; j < Dct; j++)
                {
                    float sum = 0.0f;
                    for (int k = 0; k < Down; k++)
                    {
                        sum += Unsafe.Add(ref tRow, k) * Unsafe.Add(ref dt0, k * Dct + j);
                    }

                    Unsafe.Add(ref bRow, j) = sum;
                }
            }
        }
    }

    // The DCT of a rotated or flipped image is the original's with some coefficients negated and/or
    // transposed (the reference's dct16OriginalTo* functions).
    private static void Transform(ReadOnlySpan<float> a, Span<float> b, PdqDihedralTransform transform)
    {
        for (int i = 0; i < Dct; i++)
        {
            for (int j = 0; j < Dct; j++)
            {
                float v = a[i * Dct + j];
                switch (transform)
                {
                    case PdqDihedralTransform.Rotate90:
                        b[j * Dct + i] = (j & 1) != 0 ? v : -v;
                        break;
                    case PdqDihedralTransform.Rotate180:
                        b[i * Dct + j] = ((i + j) & 1) != 0 ? -v : v;
                        break;
                    case PdqDihedralTransform.Rotate270:
                        b[j * Dct + i] = (i & 1) != 0 ? v : -v;
                        break;
                    case PdqDihedralTransform.FlipX:
                        b[i * Dct + j] = (i & 1) != 0 ? v : -v;
                        break;
                    case PdqDihedralTransform.FlipY:
                        b[i * Dct + j] = (j & 1) != 0 ? v : -v;
                        break;
                    case PdqDihedralTransform.FlipPlus1:
                        b[j * Dct + i] = v;
                        break;
                    case PdqDihedralTransform.FlipMinus1:
                        b[j * Dct + i] = ((i + j) & 1) != 0 ? -v : v;
                        break;
                    default:
                        b[i * Dct + j] = v;
                        break;
                }
            }
        }
    }

    // Bit i·16 + j is set when coefficient [i][j] is strictly greater than the median.
    private static PdqHash ToBits(ReadOnlySpan<float> dct)
    {
        float median = Torben(dct);
        Span<ulong> parts = stackalloc ulong[4];
        parts.Clear();
        for (int k = 0; k < Dct * Dct; k++)
        {
            if (dct[k] > median)
            {
                parts[k >> 6] |= 1UL << (k & 63);
            }
        }

        return new PdqHash(parts[0], parts[1], parts[2], parts[3]);
    }

    /// <summary>
    /// Torben Mogensen's median by repeated bisection of the value range, as the reference uses it; for an
    /// even count it returns the lower middle value or a value between the two middle ones, exactly as the
    /// reference does.
    /// </summary>
    internal static float Torben(ReadOnlySpan<float> m)
    {
        int n = m.Length;
        int halfCount = (n + 1) / 2;
        float min = m[0], max = m[0];
        for (int i = 1; i < n; i++)
        {
            if (m[i] < min)
            {
                min = m[i];
            }

            if (m[i] > max)
            {
                max = m[i];
            }
        }

        int less, greater, equal;
        float guess, maxLessThanGuess, minGreaterThanGuess;
        while (true)
        {
            guess = (min + max) / 2;
            less = 0;
            greater = 0;
            equal = 0;
            maxLessThanGuess = min;
            minGreaterThanGuess = max;
            for (int i = 0; i < n; i++)
            {
                float v = m[i];
                if (v < guess)
                {
                    less++;
                    if (v > maxLessThanGuess)
                    {
                        maxLessThanGuess = v;
                    }
                }
                else if (v > guess)
                {
                    greater++;
                    if (v < minGreaterThanGuess)
                    {
                        minGreaterThanGuess = v;
                    }
                }
                else
                {
                    equal++;
                }
            }

            if (less <= halfCount && greater <= halfCount)
            {
                break;
            }
            else if (less > greater)
            {
                max = maxLessThanGuess;
            }
            else
            {
                min = minGreaterThanGuess;
            }
        }

        if (less >= halfCount)
        {
            return maxLessThanGuess;
        }
        else if (less + equal >= halfCount)
        {
            return guess;
        }
        else
        {
            return minGreaterThanGuess;
        }
    }
}

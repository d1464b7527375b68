using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Cloud.Unum.USearch;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Api.Matching;

/// <summary>
/// <see cref="IApproximateVectors"/> on USearch: an HNSW graph (cosine) over the claimed vectors, or
/// over their <see cref="VectorProjection"/> when <c>Registry:Matching:VectorIndex:Dimensions</c> asks
/// for fewer coordinates, held as <c>Registry:Matching:VectorIndex:Quantization</c>; the
/// candidates it proposes are re-checked exactly by the matching index. USearch keeps one search
/// context per hardware thread and fails a search that finds none free ("Reserve capacity ahead of
/// searches!"), so at most one search per core runs at once here, the rest wait; adds come from the
/// index's one writer while no search runs.
/// </summary>
public sealed class UsearchVectors : IApproximateVectors
{
    private readonly USearchIndex _index;
    private readonly VectorProjection? _projection; // null: the vectors as claimed
    private readonly int _modelDimensions;
    private readonly int _dimensions; // of what the index holds
    private readonly VectorIndexOptions _options;

    // Environment.ProcessorCount never exceeds the hardware threads USearch reserves contexts for.
    private readonly SemaphoreSlim _searches = new(Environment.ProcessorCount, Environment.ProcessorCount);
    private int _count;

    public UsearchVectors(int dimensions, VectorIndexOptions options)
        : this(dimensions, Projection(dimensions, options), options)
    {
    }

    private UsearchVectors(int modelDimensions, VectorProjection? projection, VectorIndexOptions options)
    {
        _projection = projection;
        _options = options;
        _modelDimensions = modelDimensions;
        _dimensions = projection?.Dimensions ?? modelDimensions;
        _index = new USearchIndex(MetricKind.Cos, ScalarKindOf(options.Quantization), (ulong)_dimensions,
            (ulong)options.Connectivity, (ulong)options.ExpansionAdd, (ulong)options.ExpansionSearch, false);
    }

    public int Count => _count;

    public string Layout => LayoutOf(_modelDimensions, _projection, _options);

    /// <summary>What USearch reports it holds: the graph, the quantised vectors and its per-row tables.</summary>
    public long Bytes
    {
        get
        {
            var bytes = Native.usearch_memory_usage(Native.Handle(_index), out var error);
            Native.Check(error, "report its memory");
            return (long)bytes;
        }
    }

    /// <summary>
    /// Makes room for <paramref name="rows"/> rows at least. The binding grows the index one row at a
    /// time when it is full (a reallocation of USearch's per-row tables on every add); here it grows
    /// by doubling. Adds from several threads at once are safe within the room reserved.
    /// </summary>
    public void Reserve(int rows) => Native.Reserve(_index, rows);

    public void Add(int row, ReadOnlySpan<float> vector)
    {
        Reserve(row + 1);
        var (floats, bytes) = AsHeld(vector);
        if (floats is not null)
        {
            _index.Add((ulong)row, floats);
        }
        else
        {
            _index.Add((ulong)row, bytes!);
        }

        Interlocked.Increment(ref _count);
    }

    public int Search(ReadOnlySpan<float> query, Span<int> rows)
    {
        ulong[] keys;
        int found;
        var (floats, bytes) = AsHeld(query);
        _searches.Wait();
        try
        {
            found = floats is not null
                ? (int)_index.Search(floats, rows.Length, out keys, out _)
                : (int)_index.Search(bytes!, rows.Length, out keys, out _);
        }
        finally
        {
            _searches.Release();
        }

        for (var i = 0; i < found; i++)
        {
            rows[i] = (int)keys[i];
        }

        return found;
    }

    /// <summary>
    /// A vector as the index takes it: as claimed (USearch quantises floats as configured), or
    /// projected, to floats for <c>f32</c> and to int8 otherwise.
    /// </summary>
    private (float[]? Floats, sbyte[]? Bytes) AsHeld(ReadOnlySpan<float> vector)
    {
        if (_projection is null)
        {
            return (vector.ToArray(), null);
        }

        if (_options.Quantization == "f32")
        {
            var projected = new float[_dimensions];
            _projection.Project(vector, projected);
            return (projected, null);
        }

        var quantized = new sbyte[_dimensions];
        _projection.Quantize(vector, quantized);
        return (null, quantized);
    }

    /// <summary>How many candidates a search keeps while it walks the graph (<c>ExpansionSearch</c>), changed in place.</summary>
    public void ChangeExpansionSearch(int expansion)
    {
        Native.usearch_change_expansion_search(Native.Handle(_index), (nuint)expansion, out var error);
        Native.Check(error, "set the expansion on searches");
    }

    public NativeBuffer Save()
    {
        var length = (long)Native.usearch_serialized_length(Native.Handle(_index), out var lengthError);
        Native.Check(lengthError, "measure the saved vector index");
        var buffer = new NativeBuffer(length);
        try
        {
            unsafe
            {
                Native.usearch_save_buffer(Native.Handle(_index), buffer.Pointer, (nuint)length, out var error);
                Native.Check(error, "save the vector index");
            }

            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _index.Dispose();
        _searches.Dispose();
    }

    /// <summary>
    /// A saved index, when <paramref name="layout"/> is what <paramref name="options"/> would make now;
    /// otherwise null. Loading keeps the saved graph and sets this process's expansions on it.
    /// </summary>
    public static UsearchVectors? Open(int dimensions, VectorIndexOptions options, string layout, NativeBuffer saved)
    {
        var projection = Projection(dimensions, options);
        if (layout != LayoutOf(dimensions, projection, options))
        {
            return null;
        }

        var loaded = new UsearchVectors(dimensions, projection, options);
        try
        {
            var handle = Native.Handle(loaded._index);
            unsafe
            {
                Native.usearch_load_buffer(handle, saved.Pointer, (nuint)saved.Length, out var error);
                Native.Check(error, "load the saved vector index");
            }

            Native.usearch_change_expansion_add(handle, (nuint)options.ExpansionAdd, out var addError);
            Native.Check(addError, "set the expansion on adds");
            loaded.ChangeExpansionSearch(options.ExpansionSearch);
            if (loaded._index.Dimensions() != (ulong)loaded._dimensions)
            {
                throw new InvalidDataException($"The saved vector index holds {loaded._index.Dimensions()} dimensions, not {loaded._dimensions}.");
            }

            loaded._count = checked((int)loaded._index.Size());
            Native.Reserve(loaded._index, loaded._count + 1, always: true); // search contexts for every core, and room for the next rows
            return loaded;
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <summary>The rotation and cut when <c>Dimensions</c> asks for fewer coordinates than the model's; otherwise none.</summary>
    private static VectorProjection? Projection(int dimensions, VectorIndexOptions options) =>
        options.Dimensions > 0 && options.Dimensions < dimensions ? new VectorProjection(dimensions, options.Dimensions) : null;

    private static string LayoutOf(int dimensions, VectorProjection? projection, VectorIndexOptions options) =>
        $"usearch-2 cos {options.Quantization} connectivity {options.Connectivity} expansion-add {options.ExpansionAdd}; "
        + (projection?.Layout ?? $"as claimed, {dimensions}");

    private static ScalarKind ScalarKindOf(string quantization) => quantization == "f32" ? ScalarKind.Float32 : ScalarKind.Int8;

    /// <summary>
    /// What the binding (Cloud.Unum.USearch 2.26) keeps private or leaves out: its native handle and
    /// the C functions for room, memory, buffers and expansions (usearch.h). <c>ApproximateVectorTests</c>
    /// fail if a later version renames the handle.
    /// </summary>
    private static unsafe class Native
    {
        private const string Library = "libusearch_c";

        [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_index")]
        public static extern ref IntPtr Handle(USearchIndex index);

        /// <summary>Room for <paramref name="rows"/> rows, doubling; <paramref name="always"/> reserves even when there is room (search contexts after a load).</summary>
        public static void Reserve(USearchIndex index, int rows, bool always = false)
        {
            if (!always && index.Capacity() >= (ulong)rows)
            {
                return;
            }

            usearch_reserve(Handle(index), (nuint)Math.Max(1024L, 2L * rows), out var error);
            Check(error, $"reserve room for {rows:N0} vectors");
        }

        public static void Check(IntPtr error, string what)
        {
            if (error != IntPtr.Zero)
            {
                throw new InvalidOperationException($"USearch could not {what}: {Marshal.PtrToStringAnsi(error)}");
            }
        }

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern void usearch_reserve(IntPtr index, nuint capacity, out IntPtr error);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern nuint usearch_memory_usage(IntPtr index, out IntPtr error);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern nuint usearch_serialized_length(IntPtr index, out IntPtr error);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern void usearch_save_buffer(IntPtr index, byte* buffer, nuint length, out IntPtr error);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern void usearch_load_buffer(IntPtr index, byte* buffer, nuint length, out IntPtr error);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern void usearch_change_expansion_add(IntPtr index, nuint expansion, out IntPtr error);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern void usearch_change_expansion_search(IntPtr index, nuint expansion, out IntPtr error);
    }
}

using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// <see cref="IApproximateVectors"/> for near-duplicate search (decision record 0018): each vector
/// becomes a code of <see cref="Bits"/> bits, the signs of its projections on as many fixed
/// orthogonal directions (<see cref="VectorProjection"/>) once the build's mean vector is taken off,
/// and each 16-bit piece of the code keys a table of its own. Two vectors at angle θ differ in each
/// bit with probability θ/π, so a claimed vector near a query shares at least one whole piece with
/// it unless every piece differs somewhere: at cosine 0.98 (θ = 11.5°, a bit differs with
/// probability 0.064) that is (1 − 0.936¹⁶)³² ≈ 10⁻⁶ with 32 pieces. The rows found so are ranked by
/// the number of bits their code differs by, and the nearest are proposed; the matching index then
/// re-checks each one exactly.
/// </summary>
/// <remarks>
/// A row costs its code (64 bytes at 512 bits) and one 4-byte link per piece (128 bytes), chaining
/// the rows of a bucket newest first; the tables' heads cost 8 MiB whatever the rows. A search
/// reads at most <see cref="MaxScannedPerBucket"/> rows of a bucket, so its cost is bounded even
/// where thousands of rows share a piece (copies of one picture: they are each other's matches).
/// Adds from several threads at once are safe within room made by <see cref="Reserve"/>: a bucket's
/// head is swapped atomically.
/// </remarks>
public sealed class SignCodeVectors : IApproximateVectors
{
    /// <summary>The smallest model this index takes; the service leaves shorter vectors to its graph.</summary>
    public const int MinDimensions = 64;

    public const int MaxBits = 512;

    public const int MaxScannedPerBucket = 4_096;

    /// <summary>The fewest rows whose mean the codes are measured from.</summary>
    public const int MinCentreRows = 1_000;

    /// <summary>Past a mean of this many rows (the matching index samples at most 65,536) the index is not built again for its centre's sake.</summary>
    public const int SettledRows = 65_536;

    private const int PieceBits = 16;
    private const int Buckets = 1 << PieceBits;
    private const string Magic = "sign-codes-1";

    /// <summary>The directions per model length: made once (a rotation of 512 takes a few hundred milliseconds), shared by every build.</summary>
    private static readonly ConcurrentDictionary<int, VectorProjection> Projections = new();

    private readonly VectorProjection _projection;
    private readonly float[] _mean;
    private readonly int _words; // ulongs a code
    private readonly int _pieces;
    private readonly int[] _heads; // piece × bucket → the newest row there, plus one (0: none)
    private ulong[] _codes = [];
    private int[] _links = []; // row × piece → the next older row of that bucket, plus one
    private int _count;
    private int _centredOn; // the rows the mean was taken from; 0: measured from the origin

    public SignCodeVectors(int dimensions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, MinDimensions);
        Bits = BitsFor(dimensions);
        _projection = Projections.GetOrAdd(dimensions, length => new VectorProjection(length, BitsFor(length)));
        _mean = new float[dimensions];
        _words = Bits / 64;
        _pieces = Bits / PieceBits;
        _heads = new int[_pieces * Buckets];
    }

    /// <summary>The length of a code: 512, or the model's length rounded down to 64 bits when shorter.</summary>
    public int Bits { get; }

    public int Count => _count;

    public string Layout => LayoutFor(_mean.Length);

    /// <summary>The <see cref="Layout"/> of an index for vectors of <paramref name="dimensions"/>, without making one.</summary>
    public static string LayoutFor(int dimensions) =>
        $"{Magic} {BitsFor(dimensions)} bits in pieces of {PieceBits}; {VectorProjection.LayoutOf(dimensions, BitsFor(dimensions))}";

    public long Bytes => ((long)_codes.Length * sizeof(ulong)) + ((long)_links.Length * sizeof(int)) + ((long)_heads.Length * sizeof(int))
        + ((long)_mean.Length * sizeof(float));

    /// <summary>
    /// Keeps the build's mean when it comes from <see cref="MinCentreRows"/> rows or more: codes are then
    /// signs of directions measured from it, so that each bit splits the rows about evenly. The mean of
    /// a few rows would sit on top of them (a row that is the mean has no direction from it), so a
    /// smaller build measures from the origin, where angles are the rows' own and only the buckets are
    /// uneven (image features are non-negative: most bits lean one way).
    /// </summary>
    public void Centre(ReadOnlySpan<float> mean, int rows)
    {
        if (_count > 0)
        {
            throw new InvalidOperationException("The mean is set before the first row is added.");
        }

        if (rows >= MinCentreRows)
        {
            mean.CopyTo(_mean);
            _centredOn = rows;
        }
    }

    /// <summary>
    /// True once an index measured from the origin holds <see cref="MinCentreRows"/> rows, or one
    /// centred on n rows holds 4n, until its mean came from <see cref="SettledRows"/>: a mean of fewer
    /// rows may sit off the centre of the many added since, and then the buckets fill unevenly.
    /// </summary>
    public bool WantsRebuild => _centredOn == 0 ? _count >= MinCentreRows : _centredOn < SettledRows && _count >= 4L * _centredOn;

    public void Reserve(int rows)
    {
        if ((long)rows * _words <= _codes.Length)
        {
            return;
        }

        var capacity = Math.Max(1024, Math.Max(rows, _codes.Length / _words * 2));
        Array.Resize(ref _codes, checked(capacity * _words));
        Array.Resize(ref _links, checked(capacity * _pieces));
    }

    public void Add(int row, ReadOnlySpan<float> vector)
    {
        Reserve(row + 1);
        var code = _codes.AsSpan(row * _words, _words);
        Encode(vector, code);
        for (var piece = 0; piece < _pieces; piece++)
        {
            _links[(row * _pieces) + piece] = Interlocked.Exchange(ref _heads[(piece * Buckets) + Piece(code, piece)], row + 1);
        }

        Interlocked.Increment(ref _count);
    }

    public int Search(ReadOnlySpan<float> query, Span<int> rows)
    {
        if (rows.IsEmpty)
        {
            return 0;
        }

        Span<ulong> code = stackalloc ulong[_words];
        Encode(query, code);
        Span<int> distances = rows.Length <= 256 ? stackalloc int[rows.Length] : new int[rows.Length];
        var nearest = new Nearest(rows, distances);
        for (var piece = 0; piece < _pieces; piece++)
        {
            var link = _heads[(piece * Buckets) + Piece(code, piece)];
            for (var scanned = 0; link != 0 && scanned < MaxScannedPerBucket; scanned++)
            {
                var row = link - 1;
                nearest.Offer(row, Distance(code, _codes.AsSpan(row * _words, _words)));
                link = _links[(row * _pieces) + piece];
            }
        }

        return nearest.Count;
    }

    public NativeBuffer Save()
    {
        var header = Header();
        var buffer = new NativeBuffer(header.Length + 4 + ((long)_mean.Length * 4) + ((long)_count * _words * 8) + ((long)_heads.Length * 4)
            + ((long)_count * _pieces * 4));
        try
        {
            var at = 0L;
            Write(buffer, ref at, header);
            Write(buffer, ref at, MemoryMarshal.AsBytes(new[] { _centredOn }.AsSpan()));
            Write(buffer, ref at, MemoryMarshal.AsBytes(_mean.AsSpan()));
            Write(buffer, ref at, MemoryMarshal.AsBytes(_codes.AsSpan(0, _count * _words)));
            Write(buffer, ref at, MemoryMarshal.AsBytes(_heads.AsSpan()));
            Write(buffer, ref at, MemoryMarshal.AsBytes(_links.AsSpan(0, _count * _pieces)));
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Settings that load the sign-code indexes a snapshot holds and build none, for a reader that only
    /// looks up (the command's <c>filter</c> and <c>scan</c>): a model whose saved index is of another
    /// kind, or that has none, is scanned exactly.
    /// </summary>
    public static ApproximateVectorSettings SavedOnly(int candidates) =>
        new(dimensions => new SignCodeVectors(dimensions), int.MaxValue, candidates) { Open = OpenSaved };

    /// <summary>A saved index when <paramref name="layout"/> is this kind's for the vectors' length; otherwise null.</summary>
    public static SignCodeVectors? OpenSaved(int dimensions, string layout, NativeBuffer saved) =>
        dimensions >= MinDimensions && layout == LayoutFor(dimensions) ? Open(dimensions, saved) : null;

    /// <summary>An index saved by <see cref="Save"/> for vectors of <paramref name="dimensions"/>; throws <see cref="InvalidDataException"/> when the bytes do not hold one.</summary>
    public static SignCodeVectors Open(int dimensions, NativeBuffer saved)
    {
        var index = new SignCodeVectors(dimensions);
        var header = index.Header();
        var at = 0L;
        Span<byte> readHeader = stackalloc byte[header.Length];
        Read(saved, ref at, readHeader);
        if (!readHeader.SequenceEqual(header) || !BitConverter.IsLittleEndian)
        {
            throw new InvalidDataException("The saved sign-code index was made for other vectors.");
        }

        var fixedBytes = header.Length + 4 + ((long)index._mean.Length * 4) + ((long)index._heads.Length * 4);
        var perRow = (index._words * 8L) + (index._pieces * 4L);
        var rows = (saved.Length - fixedBytes) / perRow;
        if (rows < 0 || fixedBytes + (rows * perRow) != saved.Length || rows > int.MaxValue / index._pieces)
        {
            throw new InvalidDataException("The saved sign-code index is not of a whole number of rows.");
        }

        index.Reserve((int)rows);
        Span<int> centredOn = stackalloc int[1];
        Read(saved, ref at, MemoryMarshal.AsBytes(centredOn));
        index._centredOn = Math.Max(0, centredOn[0]);
        Read(saved, ref at, MemoryMarshal.AsBytes(index._mean.AsSpan()));
        Read(saved, ref at, MemoryMarshal.AsBytes(index._codes.AsSpan(0, (int)rows * index._words)));
        Read(saved, ref at, MemoryMarshal.AsBytes(index._heads.AsSpan()));
        Read(saved, ref at, MemoryMarshal.AsBytes(index._links.AsSpan(0, (int)rows * index._pieces)));
        if (index._heads.AsSpan().IndexOfAnyExceptInRange(0, (int)rows) >= 0 || index._links.AsSpan(0, (int)rows * index._pieces).IndexOfAnyExceptInRange(0, (int)rows) >= 0)
        {
            throw new InvalidDataException("The saved sign-code index links to rows it does not hold.");
        }

        index._count = (int)rows;
        return index;
    }

    public void Dispose()
    {
    }

    /// <summary>The code of <paramref name="vector"/>: bit i is set when its projection on direction i, measured from the mean, is positive.</summary>
    private void Encode(ReadOnlySpan<float> vector, Span<ulong> code)
    {
        Span<float> centred = vector.Length <= 4096 ? stackalloc float[vector.Length] : new float[vector.Length];
        TensorPrimitives.Subtract(vector, _mean, centred);
        Span<float> projected = stackalloc float[Bits];
        _projection.Project(centred, projected);
        code.Clear();
        for (var i = 0; i < Bits; i++)
        {
            if (projected[i] > 0)
            {
                code[i >> 6] |= 1UL << (i & 63);
            }
        }
    }

    private static int BitsFor(int dimensions) => Math.Min(MaxBits, dimensions / 64 * 64);

    private static int Piece(ReadOnlySpan<ulong> code, int piece) => (int)((code[piece >> 2] >> ((piece & 3) * PieceBits)) & (Buckets - 1));

    private static int Distance(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b)
    {
        var distance = 0;
        for (var i = 0; i < a.Length; i++)
        {
            distance += BitOperations.PopCount(a[i] ^ b[i]);
        }

        return distance;
    }

    /// <summary>What a saved index starts with: its layout's name and the length of the vectors it was made for.</summary>
    private byte[] Header()
    {
        var name = System.Text.Encoding.ASCII.GetBytes(Layout);
        var header = new byte[4 + name.Length + 4];
        BinaryPrimitives.WriteInt32LittleEndian(header, name.Length);
        name.CopyTo(header, 4);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4 + name.Length), _mean.Length);
        return header;
    }

    private static void Write(NativeBuffer buffer, ref long at, ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var slice = buffer.Slice(at, Math.Min(bytes.Length, 1 << 30));
            bytes[..slice.Length].CopyTo(slice);
            bytes = bytes[slice.Length..];
            at += slice.Length;
        }
    }

    private static void Read(NativeBuffer buffer, ref long at, Span<byte> into)
    {
        while (!into.IsEmpty)
        {
            var slice = buffer.Slice(at, Math.Min(into.Length, 1 << 30));
            if (slice.IsEmpty)
            {
                throw new InvalidDataException("The saved sign-code index ends early.");
            }

            slice.CopyTo(into);
            into = into[slice.Length..];
            at += slice.Length;
        }
    }

    /// <summary>The rows nearest so far (fewest differing bits), nearest first, each once.</summary>
    private ref struct Nearest(Span<int> rows, Span<int> distances)
    {
        private readonly Span<int> _rows = rows;
        private readonly Span<int> _distances = distances;

        public int Count { get; private set; }

        public void Offer(int row, int distance)
        {
            if (Count == _rows.Length && distance >= _distances[Count - 1])
            {
                return;
            }

            // A row shares several pieces with a query near it: it is offered once per piece.
            for (var i = 0; i < Count && _distances[i] <= distance; i++)
            {
                if (_rows[i] == row)
                {
                    return;
                }
            }

            var at = Count < _rows.Length ? Count++ : Count - 1;
            while (at > 0 && _distances[at - 1] > distance)
            {
                _rows[at] = _rows[at - 1];
                _distances[at] = _distances[at - 1];
                at--;
            }

            _rows[at] = row;
            _distances[at] = distance;
        }
    }
}

using System.Buffers;
using ConsentRegistry.Cli.Deciding;
using ParquetSharp;

namespace ConsentRegistry.Cli.Filtering;

/// <summary>
/// Columns as the file stores them (physical values with their definition and repetition
/// levels), so that any schema, nested lists and structs included, is written back as it was
/// read, with only the chosen rows. A row is the run of entries from one repetition level 0 to
/// the next. Values are read and written in batches; a string's bytes stay in the reader's
/// buffer, valid until its next batch, so each batch is written out before the next is read.
/// </summary>
internal static class ParquetColumns
{
    private const int Batch = 16 * 1024;

    /// <summary>
    /// Copies the column chunk <paramref name="reader"/> reads, which must hold <paramref name="rows"/>
    /// rows: rows whose <paramref name="keep"/> is true to <paramref name="kept"/>, the others to
    /// <paramref name="removed"/> (null: not written).
    /// </summary>
    public static void Split(ColumnReader reader, ColumnWriter? kept, ColumnWriter? removed, bool[] keep, int rows) =>
        reader.Apply(new Splitter(kept, removed, keep, rows));

    /// <summary>
    /// Reads a flat string column of <paramref name="rows"/> rows, about <paramref name="bytes"/>
    /// bytes of values, as lookup keys; a row without a value has an empty URL and is not present.
    /// Both counts come from the footer, unverified: they only hint at sizes (<see cref="UrlRows"/>),
    /// and a column that does not hold exactly <paramref name="rows"/> values is refused.
    /// </summary>
    public static UrlRows ReadUrls(ColumnReader reader, int rows, long bytes)
    {
        var urls = new UrlRows(rows, bytes);
        try
        {
            var column = (ColumnReader<ByteArray>)reader;
            var definitions = new short[Batch];
            var values = new ByteArray[Batch];
            var optional = reader.ColumnDescriptor.MaxDefinitionLevel > 0;
            while (HasNext(column))
            {
                var levels = (int)Read(column, definitions, [], values);
                if (levels > rows - urls.Count)
                {
                    throw new InvalidDataException($"the URL column holds more values than the row group's {rows} rows");
                }

                for (int entry = 0, next = 0; entry < levels; entry++)
                {
                    if (!optional || definitions[entry] > 0)
                    {
                        urls.Add(values[next++]);
                    }
                    else
                    {
                        urls.AddMissing();
                    }
                }
            }

            if (urls.Count != rows)
            {
                throw new InvalidDataException($"the URL column holds {urls.Count} values for {rows} rows");
            }

            return urls;
        }
        catch
        {
            urls.Dispose();
            throw;
        }
    }

    private sealed class Splitter(ColumnWriter? kept, ColumnWriter? removed, bool[] keep, int rows) : IColumnReaderVisitor<bool>
    {
        public bool OnColumnReader<TValue>(ColumnReader<TValue> reader)
            where TValue : unmanaged
        {
            Split(reader, (ColumnWriter<TValue>?)kept, (ColumnWriter<TValue>?)removed, keep, rows);
            return true;
        }
    }

    private static void Split<T>(ColumnReader<T> reader, ColumnWriter<T>? kept, ColumnWriter<T>? removed, bool[] keep, int rows)
        where T : unmanaged
    {
        var maxDefinition = reader.ColumnDescriptor.MaxDefinitionLevel;
        var repeated = reader.ColumnDescriptor.MaxRepetitionLevel > 0;
        var definitions = maxDefinition > 0 ? ArrayPool<short>.Shared.Rent(Batch) : [];
        var repetitions = repeated ? ArrayPool<short>.Shared.Rent(Batch) : [];
        var values = ArrayPool<T>.Shared.Rent(Batch);
        var keptPart = new Part<T>(kept, maxDefinition > 0, repeated);
        var removedPart = new Part<T>(removed, maxDefinition > 0, repeated);
        try
        {
            var row = -1;
            while (HasNext(reader))
            {
                var levels = (int)Read(reader, definitions, repetitions, values);
                for (int entry = 0, next = 0; entry < levels; entry++)
                {
                    if (!repeated || repetitions[entry] == 0)
                    {
                        if (++row == rows)
                        {
                            throw new InvalidDataException($"a column holds more than the row group's {rows} rows");
                        }
                    }
                    else if (row < 0)
                    {
                        throw new InvalidDataException("a column's first value continues a row before it");
                    }

                    var hasValue = maxDefinition == 0 || definitions[entry] == maxDefinition;
                    var part = keep[row] ? keptPart : removedPart;
                    part.Add(definitions, repetitions, entry, hasValue ? values[next++] : default, hasValue);
                }

                // Written before the next read: a string's bytes live in the reader's buffer until then.
                keptPart.Flush();
                removedPart.Flush();
            }

            if (row + 1 != rows)
            {
                throw new InvalidDataException($"a column holds {row + 1} of the row group's {rows} rows");
            }
        }
        finally
        {
            keptPart.Return();
            removedPart.Return();
            ArrayPool<T>.Shared.Return(values);
            if (definitions.Length > 0)
            {
                ArrayPool<short>.Shared.Return(definitions);
            }

            if (repetitions.Length > 0)
            {
                ArrayPool<short>.Shared.Return(repetitions);
            }
        }
    }

    /// <summary>Opens column <paramref name="index"/> of <paramref name="group"/>.</summary>
    public static ColumnReader Column(RowGroupReader group, int index) =>
        Reading((group, index), static state => state.group.Column(state.index));

    /// <summary>Whether another batch follows (this reads the next page's header, and may decompress it).</summary>
    private static bool HasNext(ColumnReader reader) => Reading(reader, static reader => reader.HasNext);

    /// <summary>One batch, as read.</summary>
    private static long Read<T>(ColumnReader<T> reader, short[] definitions, short[] repetitions, T[] values)
        where T : unmanaged =>
        Reading((reader, definitions, repetitions, values), static state =>
            state.reader.ReadBatch(Batch, state.definitions, state.repetitions, state.values, out _));

    /// <summary>
    /// Reads the input: a failure is the input's fault (a damaged page, a bad header), told apart
    /// from a failure to write by <see cref="InvalidDataException"/>.
    /// </summary>
    private static TResult Reading<TState, TResult>(TState state, Func<TState, TResult> read)
    {
        try
        {
            return read(state);
        }
        catch (ParquetException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    /// <summary>The entries of one batch bound for one output, written with <see cref="Flush"/>.</summary>
    private sealed class Part<T>(ColumnWriter<T>? writer, bool hasDefinitions, bool repeated)
        where T : unmanaged
    {
        private readonly short[] _definitions = writer is not null && hasDefinitions ? ArrayPool<short>.Shared.Rent(Batch) : [];
        private readonly short[] _repetitions = writer is not null && repeated ? ArrayPool<short>.Shared.Rent(Batch) : [];
        private readonly T[] _values = writer is not null ? ArrayPool<T>.Shared.Rent(Batch) : [];
        private int _entries;
        private int _count;

        public void Add(short[] definitions, short[] repetitions, int entry, T value, bool hasValue)
        {
            if (writer is null)
            {
                return;
            }

            if (hasDefinitions)
            {
                _definitions[_entries] = definitions[entry];
            }

            if (repeated)
            {
                _repetitions[_entries] = repetitions[entry];
            }

            _entries++;
            if (hasValue)
            {
                _values[_count++] = value;
            }
        }

        public void Flush()
        {
            if (writer is not null && _entries > 0)
            {
                writer.WriteBatch(_entries, _definitions, _repetitions, _values.AsSpan(0, _count));
            }

            _entries = _count = 0;
        }

        public void Return()
        {
            if (writer is null)
            {
                return;
            }

            ArrayPool<T>.Shared.Return(_values);
            if (_definitions.Length > 0)
            {
                ArrayPool<short>.Shared.Return(_definitions);
            }

            if (_repetitions.Length > 0)
            {
                ArrayPool<short>.Shared.Return(_repetitions);
            }
        }
    }
}

/// <summary>
/// A row group's URLs as lookup keys, their characters decoded into pooled buffers. The footer's
/// counts are untrusted (a file of a few kilobytes can claim 400 million rows, 19 GB of keys), so
/// they size the arrays up front only up to <see cref="MaxRowsUpFront"/> rows and
/// <see cref="MaxCharsUpFront"/> characters; past that, the keys grow as rows are read, and a
/// full character buffer is followed by a new one (keys already made keep pointing into the old
/// one, which is returned with the rest).
/// </summary>
internal sealed class UrlRows : IDisposable
{
    /// <summary>Rows sized up front at most (48 MiB of keys): a row group of up to a million rows never grows its arrays.</summary>
    private const int MaxRowsUpFront = 1 << 20;

    /// <summary>Characters sized up front at most (32 MiB).</summary>
    private const int MaxCharsUpFront = 16 << 20;

    private readonly List<char[]> _buffers = [];
    private LookupKey[] _keys;
    private bool[] _present;
    private int _rows;
    private int _used;

    /// <param name="rows">The rows the footer gives the row group.</param>
    /// <param name="chars">About how many characters its URLs hold (their bytes are enough: UTF-8 never decodes to more characters than bytes).</param>
    public UrlRows(int rows, long chars)
    {
        _keys = ArrayPool<LookupKey>.Shared.Rent(Math.Min(rows, MaxRowsUpFront));
        _present = ArrayPool<bool>.Shared.Rent(_keys.Length);
        _buffers.Add(ArrayPool<char>.Shared.Rent((int)Math.Clamp(chars, 1024, MaxCharsUpFront)));
    }

    /// <summary>The rows read so far.</summary>
    public int Count => _rows;

    public ReadOnlyMemory<LookupKey> Keys => _keys.AsMemory(0, _rows);

    /// <summary>Whether each row has a URL at all (a null is kept and counted as invalid).</summary>
    public ReadOnlySpan<bool> Present => _present.AsSpan(0, _rows);

    /// <summary>The next row, with <paramref name="value"/> as its URL.</summary>
    public unsafe void Add(ByteArray value)
    {
        var bytes = new ReadOnlySpan<byte>((void*)value.Pointer, value.Length);
        var buffer = _buffers[^1];
        if (value.Length > buffer.Length - _used)
        {
            buffer = ArrayPool<char>.Shared.Rent(Math.Max(buffer.Length, value.Length));
            _buffers.Add(buffer);
            _used = 0;
        }

        var chars = System.Text.Encoding.UTF8.GetChars(bytes, buffer.AsSpan(_used));
        Next(new LookupKey(buffer.AsMemory(_used, chars)), present: chars > 0); // an empty URL is no URL: counted as the nulls are
        _used += chars;
    }

    /// <summary>The next row, with no URL (a null).</summary>
    public void AddMissing() => Next(default, present: false);

    private void Next(LookupKey key, bool present)
    {
        if (_rows == _keys.Length)
        {
            Grow();
        }

        _keys[_rows] = key;
        _present[_rows++] = present;
    }

    private void Grow()
    {
        var length = (int)Math.Min(Math.Max(2L * _keys.Length, 1024), Array.MaxLength);
        var keys = ArrayPool<LookupKey>.Shared.Rent(length);
        var present = ArrayPool<bool>.Shared.Rent(length);
        Keys.Span.CopyTo(keys);
        Present.CopyTo(present);
        ArrayPool<LookupKey>.Shared.Return(_keys, clearArray: true);
        ArrayPool<bool>.Shared.Return(_present);
        (_keys, _present) = (keys, present);
    }

    public void Dispose()
    {
        ArrayPool<LookupKey>.Shared.Return(_keys, clearArray: true);
        ArrayPool<bool>.Shared.Return(_present);
        foreach (var buffer in _buffers)
        {
            ArrayPool<char>.Shared.Return(buffer);
        }

        _buffers.Clear();
    }
}

using System.Buffers;
using System.Collections.Concurrent;
using System.Reflection;
using Parquet;
using Parquet.Data;
using Parquet.Schema;

namespace ConsentRegistry.Cli.Filtering;

/// <summary>
/// Columns as the file stores them (values, definition and repetition levels), so that any
/// schema, nested lists and structs included, is written back as it was read, with only the
/// chosen rows. A row is the run of entries from one repetition level 0 to the next.
/// </summary>
internal static class RawColumns
{
    /// <summary>Reads one column of the row group <paramref name="group"/>.</summary>
    public static ValueTask<RawColumnData> ReadAsync(ParquetRowGroupReader group, DataField field, CancellationToken cancellationToken) =>
        group.ReadRawColumnDataBaseAsync(field, cancellationToken);

    /// <summary>The values of a flat string column by row, null where the row has none.</summary>
    public static void ReadStrings(RawColumnData column, DataField field, Span<ReadOnlyMemory<char>> rows, Span<bool> present)
    {
        var values = ((RawColumnData<ReadOnlyMemory<char>>)column).Values;
        if (field.MaxDefinitionLevel == 0)
        {
            values.CopyTo(rows);
            present.Fill(true);
            return;
        }

        var levels = column.DefinitionLevels;
        var next = 0;
        for (var row = 0; row < rows.Length; row++)
        {
            present[row] = levels[row] == field.MaxDefinitionLevel;
            rows[row] = present[row] ? values[next++] : default;
        }
    }

    /// <summary>
    /// Writes the rows of <paramref name="column"/> (read as <paramref name="source"/>) where
    /// <paramref name="keep"/> is <paramref name="which"/>, as the column <paramref name="target"/> of <paramref name="writer"/>'s row group.
    /// </summary>
    public static Task WriteAsync(
        RawColumnData column, DataField source, ParquetRowGroupWriter writer, DataField target, ReadOnlyMemory<bool> keep, bool which, CancellationToken cancellationToken) =>
        Writers.GetOrAdd(column.GetType(), MakeWriter)(column, writer, target, source, keep, which, cancellationToken);

    private delegate Task ColumnWriter(RawColumnData raw, ParquetRowGroupWriter writer, DataField target, DataField source, ReadOnlyMemory<bool> keep, bool which, CancellationToken cancellationToken);

    private static readonly ConcurrentDictionary<Type, ColumnWriter> Writers = new();

    private static ColumnWriter MakeWriter(Type rawType)
    {
        var method = typeof(RawColumns).GetMethod(nameof(WriteTypedAsync), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(rawType.GetGenericArguments()[0]);
        return method.CreateDelegate<ColumnWriter>();
    }

    private static async Task WriteTypedAsync<T>(
        RawColumnData raw, ParquetRowGroupWriter writer, DataField target, DataField source, ReadOnlyMemory<bool> keep, bool which, CancellationToken cancellationToken)
        where T : struct
    {
        var typed = (RawColumnData<T>)raw;
        var hasDefinitions = source.MaxDefinitionLevel > 0;
        var hasRepetitions = source.MaxRepetitionLevel > 0;
        var entries = hasDefinitions ? raw.DefinitionLevels.Length : typed.Values.Length;
        var values = ArrayPool<T>.Shared.Rent(Math.Max(typed.Values.Length, 1));
        var definitions = hasDefinitions ? ArrayPool<int>.Shared.Rent(entries) : null;
        var repetitions = hasRepetitions ? ArrayPool<int>.Shared.Rent(entries) : null;
        try
        {
            var (valueCount, entryCount) = Select(typed, source, keep.Span, which, values, definitions, repetitions);
            if (!hasDefinitions && !hasRepetitions)
            {
                // Required and flat: the levels-based writer would count no rows without levels.
                await writer.WriteAsync<T>(target, values.AsMemory(0, valueCount), null, null, cancellationToken);
                return;
            }

            await writer.WriteAllPartsAsync<T>(
                target,
                values.AsMemory(0, valueCount),
                definitions is null ? null : definitions.AsMemory(0, entryCount),
                repetitions is null ? null : repetitions.AsMemory(0, entryCount),
                cancellationToken);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(values, clearArray: System.Runtime.CompilerServices.RuntimeHelpers.IsReferenceOrContainsReferences<T>());
            if (definitions is not null)
            {
                ArrayPool<int>.Shared.Return(definitions);
            }

            if (repetitions is not null)
            {
                ArrayPool<int>.Shared.Return(repetitions);
            }
        }
    }

    private static (int Values, int Entries) Select<T>(
        RawColumnData<T> raw, DataField field, ReadOnlySpan<bool> keep, bool which, T[] values, int[]? definitions, int[]? repetitions)
        where T : struct
    {
        var source = raw.Values;
        if (definitions is null && repetitions is null)
        {
            // Required and flat: one value per row.
            var kept = 0;
            for (var i = 0; i < source.Length; i++)
            {
                if (keep[i] == which)
                {
                    values[kept++] = source[i];
                }
            }

            return (kept, kept);
        }

        var levels = definitions is null ? default : raw.DefinitionLevels;
        var repeats = repetitions is null ? default : raw.RepetitionLevels;
        var entries = definitions is null ? repeats.Length : levels.Length;
        int row = -1, next = 0, valueCount = 0, entryCount = 0;
        for (var entry = 0; entry < entries; entry++)
        {
            if (repetitions is null || repeats[entry] == 0)
            {
                row++;
            }

            var hasValue = definitions is null || levels[entry] == field.MaxDefinitionLevel;
            if (keep[row] == which)
            {
                if (definitions is not null)
                {
                    definitions[entryCount] = levels[entry];
                }

                if (repetitions is not null)
                {
                    repetitions[entryCount] = repeats[entry];
                }

                entryCount++;
                if (hasValue)
                {
                    values[valueCount++] = source[next];
                }
            }

            if (hasValue)
            {
                next++;
            }
        }

        return (valueCount, entryCount);
    }
}

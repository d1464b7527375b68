using System.Buffers;
using System.Threading.Channels;
using ConsentRegistry.Cli.Console;
using ConsentRegistry.Cli.Deciding;
using ConsentRegistry.Core.Matching;
using Parquet;
using Parquet.Data;
using Parquet.Schema;

namespace ConsentRegistry.Cli.Filtering;

/// <summary>
/// Filters one Parquet file row group by row group: decides the next row group (its URL column)
/// while the current one is written column by column, writes the kept rows with the input's schema
/// and metadata, and the removed rows (when asked) with the decision per category and the matched
/// claim ids added. Memory holds two row groups' URL columns and verdicts and one other column,
/// whatever the file's length.
/// </summary>
internal sealed class ParquetFileFilter(IRegistrySource source, int useCategory, IProgressSink progress)
{
    /// <summary>Where a URL column is looked for, in this order, when <c>--url-column</c> does not name one.</summary>
    public static readonly string[] UrlColumnNames = ["url", "URL", "image_url"];

    /// <summary>The columns added to removed rows: the decision per category, then the matched claims.</summary>
    public static readonly string[] DecisionColumns = ["registry_tdm", "registry_train_ai", "registry_train_genai", "registry_ai_use", "registry_search"];

    public const string ClaimsColumn = "registry_claims";

    public static async Task<ParquetReader> OpenAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await ParquetReader.CreateAsync(path, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or InvalidOperationException
                                       || e.GetType().Namespace?.StartsWith("Parquet", StringComparison.Ordinal) == true)
        {
            throw CliException.Input($"{path}: not a readable Parquet file ({e.Message})", e);
        }
    }

    public static int FindUrlColumn(string path, DataField[] fields, string? named)
    {
        var candidates = named is not null ? [named] : UrlColumnNames;
        foreach (var name in candidates)
        {
            var index = Array.FindIndex(fields, field => field.Path.Length == 1 && field.Name == name);
            if (index < 0)
            {
                continue;
            }

            if (fields[index].ClrType != typeof(ReadOnlyMemory<char>) || fields[index].MaxRepetitionLevel > 0)
            {
                throw CliException.Input($"{path}: column {name} is not a column of strings.");
            }

            return index;
        }

        throw CliException.Input(named is not null
            ? $"{path}: no column named {named}."
            : $"{path}: no URL column (looked for {string.Join(", ", UrlColumnNames)}); name it with --url-column.");
    }

    public async Task RunAsync(string input, string keptPath, string? removedPath, string? urlColumn, FileProgress state, Action save, CancellationToken cancellationToken)
    {
        // Two readers of the file: one reads the URL column of the next row group and decides its
        // rows while the other copies the decided row group's columns out, one column at a time.
        await using var reader = await OpenAsync(input, cancellationToken);
        await using var urlReader = await OpenAsync(input, cancellationToken);
        var fields = reader.Schema.GetDataFields();
        var url = FindUrlColumn(input, fields, urlColumn);
        var metadata = reader.CustomMetadata ?? new Dictionary<string, string>();
        var kept = new ParquetOutput(keptPath, reader.Schema, metadata);
        kept.Restore(state.KeptOutput);
        ParquetOutput? removed = null;
        DataField[] added = [];
        if (removedPath is not null)
        {
            added = [.. DecisionColumns.Select(name => new DataField(name, typeof(string), false)), new DataField(ClaimsColumn, typeof(string), true)];
            removed = new ParquetOutput(removedPath, new ParquetSchema([.. reader.Schema.Fields, .. added]), metadata);
            removed.Restore(state.RemovedOutput);
        }

        state.RowGroups = reader.RowGroupCount;

        // One decided row group waits while another is written: memory holds two row groups' URL
        // columns and verdicts, and one other column at a time, whatever the file's length.
        var decided = Channel.CreateBounded<DecidedGroup>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var urlField = urlReader.Schema.GetDataFields()[url];
        var deciding = Task.Run(() => DecideAllAsync(input, urlReader, urlField, state.RowGroupsDone, decided.Writer, stop.Token), CancellationToken.None);
        try
        {
            await foreach (var group in decided.Reader.ReadAllAsync(cancellationToken))
            {
                using (group)
                {
                    await WriteAndRecordAsync(input, reader, fields, url, group, kept, removed, added, state, save, cancellationToken);
                }
            }

            await deciding; // its failure, if that is why there are no more row groups
        }
        finally
        {
            await stop.CancelAsync();
            await Quietly(deciding);
            while (decided.Reader.TryRead(out var unused))
            {
                unused.Dispose();
            }
        }

        await kept.CompleteAsync(cancellationToken);
        if (removed is not null)
        {
            await removed.CompleteAsync(cancellationToken);
        }

        state.KeptOutput = kept.Checkpoint;
        state.RemovedOutput = removed?.Checkpoint;
        state.Done = true;
        save();
    }

    /// <summary>A row group whose URL column is read and whose rows are decided, waiting to be written.</summary>
    private sealed record DecidedGroup(int Index, RawColumnData Urls, DecidedRows Rows) : IDisposable
    {
        public void Dispose()
        {
            Urls.Dispose();
            Rows.Dispose();
        }
    }

    /// <summary>Reads and decides the row groups from <paramref name="first"/> on, in order, into <paramref name="output"/>; completes it however it ends.</summary>
    private async Task DecideAllAsync(string input, ParquetReader reader, DataField urlField, int first, ChannelWriter<DecidedGroup> output, CancellationToken cancellationToken)
    {
        try
        {
            // Decided only once the pipe has room: one row group written, the next one waiting.
            for (var index = first; index < reader.RowGroupCount && await output.WaitToWriteAsync(cancellationToken); index++)
            {
                var group = await DecideAsync(input, reader, index, urlField, cancellationToken);
                try
                {
                    await output.WriteAsync(group, cancellationToken);
                }
                catch
                {
                    group.Dispose();
                    throw;
                }
            }
        }
        finally
        {
            output.Complete();
        }
    }

    /// <summary>Reads row group <paramref name="index"/>'s URL column and decides every row: which are kept, and each one's verdict.</summary>
    private async Task<DecidedGroup> DecideAsync(string input, ParquetReader reader, int index, DataField urlField, CancellationToken cancellationToken)
    {
        RawColumnData urlColumn;
        int rows;
        using (var group = OpenRowGroup(input, reader, index))
        {
            rows = checked((int)group.RowCount);
            urlColumn = await ReadColumnAsync(input, index, group, urlField, cancellationToken);
        }

        var decided = new DecidedRows(rows);
        var urls = ArrayPool<ReadOnlyMemory<char>>.Shared.Rent(rows);
        var present = ArrayPool<bool>.Shared.Rent(rows);
        var keys = ArrayPool<LookupKey>.Shared.Rent(rows);
        try
        {
            RawColumns.ReadStrings(urlColumn, urlField, urls.AsSpan(0, rows), present.AsSpan(0, rows));
            for (var i = 0; i < rows; i++)
            {
                keys[i] = new LookupKey(urls[i]);
            }

            await source.DecideAsync(keys.AsMemory(0, rows), decided.Verdicts, cancellationToken);
            decided.Count(useCategory, present.AsSpan(0, rows));
            return new DecidedGroup(index, urlColumn, decided);
        }
        catch
        {
            decided.Dispose();
            urlColumn.Dispose();
            throw;
        }
        finally
        {
            ArrayPool<ReadOnlyMemory<char>>.Shared.Return(urls, clearArray: true);
            ArrayPool<bool>.Shared.Return(present);
            ArrayPool<LookupKey>.Shared.Return(keys, clearArray: true);
        }
    }

    /// <summary>Writes one decided row group's rows, then records it as done (state saved, progress advanced).</summary>
    private async Task WriteAndRecordAsync(
        string input, ParquetReader reader, DataField[] fields, int url, DecidedGroup group, ParquetOutput kept, ParquetOutput? removed, DataField[] added,
        FileProgress state, Action save, CancellationToken cancellationToken)
    {
        var decided = group.Rows;
        var rows = decided.Verdicts.Length;
        using (var columns = OpenRowGroup(input, reader, group.Index))
        {
            // The kept and the removed file are two files, so each column goes to both at once.
            await InRowGroupAsync(kept, decided.Kept > 0, keptGroup =>
                InRowGroupAsync(removed, decided.Kept < rows, async removedGroup =>
                {
                    for (var c = 0; c < fields.Length; c++)
                    {
                        var column = c == url ? group.Urls : await ReadColumnAsync(input, group.Index, columns, fields[c], cancellationToken);
                        try
                        {
                            await Task.WhenAll(
                                keptGroup is null ? Task.CompletedTask : RawColumns.WriteAsync(column, fields[c], keptGroup, fields[c], decided.Keep, true, cancellationToken),
                                removedGroup is null ? Task.CompletedTask : Task.Run(() => RawColumns.WriteAsync(column, fields[c], removedGroup, fields[c], decided.Keep, false, cancellationToken), cancellationToken));
                        }
                        finally
                        {
                            if (c != url)
                            {
                                column.Dispose(); // the URL column is the decided group's
                            }
                        }
                    }

                    if (removedGroup is not null)
                    {
                        await WriteDecisionsAsync(removedGroup, added, decided);
                    }
                }, cancellationToken), cancellationToken);
        }

        state.RowGroupsDone = group.Index + 1;
        state.Rows += rows;
        state.Kept += decided.Kept;
        state.Removed += rows - decided.Kept;
        state.InvalidUrls += decided.Invalid;
        state.KeptOutput = kept.Checkpoint;
        state.RemovedOutput = removed?.Checkpoint;
        save();
        progress.Advance(rows, decided.Kept, rows - decided.Kept);
    }

    /// <summary>Runs <paramref name="write"/> inside a new row group of <paramref name="output"/>, or with none when there is no file or no row for it.</summary>
    private static Task InRowGroupAsync(ParquetOutput? output, bool anyRows, Func<ParquetRowGroupWriter?, Task> write, CancellationToken cancellationToken) =>
        output is null || !anyRows ? write(null) : output.AppendRowGroupAsync(write, cancellationToken);

    /// <summary>The columns only the removed file has: the decision per category, then the matched claims.</summary>
    private static async Task WriteDecisionsAsync(ParquetRowGroupWriter writer, DataField[] added, DecidedRows decided)
    {
        var verdicts = decided.Verdicts;
        var keep = decided.Keep;
        for (var category = 0; category < DecisionColumns.Length; category++)
        {
            await writer.WriteAsync(added[category], Removed(verdicts, keep, v => Decision.ToWire(v.Decision[category])), null);
        }

        // Strings with their nulls: the helper makes the definition levels (its levels argument is for repetition).
        await writer.WriteAsync(added[^1], Removed(verdicts, keep, v => v.Claims), null);
    }

    private static ParquetRowGroupReader OpenRowGroup(string input, ParquetReader reader, int index)
    {
        try
        {
            return reader.OpenRowGroupReader(index);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Unreadable(input, index, e);
        }
    }

    private static async Task<RawColumnData> ReadColumnAsync(string input, int index, ParquetRowGroupReader group, DataField field, CancellationToken cancellationToken)
    {
        try
        {
            return await RawColumns.ReadAsync(group, field, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Unreadable(input, index, e);
        }
    }

    private static CliException Unreadable(string input, int index, Exception e) =>
        CliException.Input($"{input}: row group {index} cannot be read ({e.Message}); the file may be truncated or corrupt.", e);

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch
        {
            // the failure that matters is the one already on its way out
        }
    }

    private static string?[] Removed(ReadOnlyMemory<Verdict> verdicts, ReadOnlyMemory<bool> keep, Func<Verdict, string?> select)
    {
        var list = new List<string?>();
        for (var i = 0; i < verdicts.Length; i++)
        {
            if (!keep.Span[i])
            {
                list.Add(select(verdicts.Span[i]));
            }
        }

        return [.. list];
    }
}

using System.Buffers.Binary;
using ParquetSharp;
using ParquetSharp.Schema;

namespace ConsentRegistry.Cli.Filtering;

/// <summary>
/// Where a resumable output file stands: its length after the last whole row group, and the
/// bytes from its footer's start to that length. Appending a row group overwrites the footer in
/// place, so a run killed mid-append is undone by cutting the file back to where the footer
/// started and writing these bytes again.
/// </summary>
public sealed record OutputCheckpoint(long Length, byte[] Tail, int RowGroups);

/// <summary>
/// A Parquet file written one row group at a time and completed (footer written and fsynced)
/// after each, so that after each the file on disk is a valid Parquet file of the row groups
/// written so far; while one is written it has no footer, and <see cref="Restore"/> with the last
/// checkpoint puts it back. Each row group is written by a writer of its own, started where the last footer began
/// and told the file's real positions, so that its column chunks' offsets are right where they
/// lie; its footer is then joined to the one before (<see cref="ParquetFooter"/>).
/// </summary>
public sealed class ParquetOutput(string path, GroupNode schema, WriterProperties properties, IReadOnlyDictionary<string, string> metadata)
{
    /// <summary>What every Parquet file starts and ends with.</summary>
    internal static readonly byte[] Magic = "PAR1"u8.ToArray();

    public string Path { get; } = path;

    public OutputCheckpoint? Checkpoint { get; private set; }

    /// <summary>Puts the file back as it was at <paramref name="checkpoint"/> (none: no file yet).</summary>
    public void Restore(OutputCheckpoint? checkpoint)
    {
        Checkpoint = checkpoint;
        try
        {
            if (checkpoint is null)
            {
                File.Delete(Path);
                return;
            }

            var footerStart = checkpoint.Length - checkpoint.Tail.Length;
            if (!File.Exists(Path))
            {
                throw CliException.Input($"{Path} is gone since its last row group was recorded; it changed outside this tool. Start again with --overwrite.");
            }

            using var file = new FileStream(Path, FileMode.Open, FileAccess.ReadWrite);
            if (file.Length < footerStart)
            {
                throw CliException.Input($"{Path} is shorter than when its last row group was recorded; it changed outside this tool. Start again with --overwrite.");
            }

            file.SetLength(footerStart);
            file.Seek(footerStart, SeekOrigin.Begin);
            file.Write(checkpoint.Tail);
            file.Flush(flushToDisk: true);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            throw CannotWrite(e);
        }
    }

    /// <summary>Appends one row group, whose columns <paramref name="writeColumns"/> writes in schema order, and records the new checkpoint.</summary>
    public void AppendRowGroup(Action<RowGroupWriter> writeColumns) => Write(1, writer =>
    {
        using var group = writer.AppendRowGroup();
        writeColumns(group);
    });

    /// <summary>Makes sure the file exists: a run that kept no row leaves a valid file with the schema and no rows.</summary>
    public void Complete()
    {
        if (Checkpoint is null)
        {
            Write(0, _ => { });
        }
    }

    private void Write(int rowGroups, Action<ParquetFileWriter> write)
    {
        var previous = Checkpoint;
        FileStream file;
        try
        {
            file = new FileStream(Path, previous is null ? FileMode.Create : FileMode.Open, FileAccess.ReadWrite, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            throw CannotWrite(e);
        }

        // Every use of the file goes through the sink, which keeps its first failure: the writer
        // passes a stream's exception on only as text, inside one of its own.
        var sink = new ContinuingSink(file, continues: previous is not null);
        try
        {
            var start = previous is null ? 0 : previous.Length - previous.Tail.Length;
            sink.OnFile(() =>
            {
                file.SetLength(start);
                file.Seek(start, SeekOrigin.Begin);
            });
            using (var writer = new ParquetFileWriter(sink, schema, properties, metadata, leaveOpen: true))
            {
                write(writer);
                writer.Close();
            }

            var written = sink.OnFile(() => ReadTail(file));
            var tail = written;
            if (previous is not null)
            {
                // The new writer's footer knows only its own row group: join it to the one before.
                var footer = ParquetFooter.Join(previous.Tail.AsSpan(0, previous.Tail.Length - 8), written.AsSpan(0, written.Length - 8));
                tail = new byte[footer.Length + 8];
                footer.CopyTo(tail, 0);
                BinaryPrimitives.WriteInt32LittleEndian(tail.AsSpan(footer.Length), footer.Length);
                Magic.CopyTo(tail, footer.Length + 4);
                sink.OnFile(() =>
                {
                    file.SetLength(file.Length - written.Length);
                    file.Seek(0, SeekOrigin.End);
                    file.Write(tail);
                });
            }

            sink.OnFile(() => file.Flush(flushToDisk: true));
            var length = file.Length;
            sink.OnFile(file.Dispose);
            Checkpoint = new OutputCheckpoint(length, tail, (previous?.RowGroups ?? 0) + rowGroups);
        }
        catch (Exception)
        {
            // The file was cut back to before its footer: put it back as it was, a valid file (or
            // none), whatever failed (the disk, a column that would not read, the footers' join).
            CloseAfterFailure(file);
            RestoreAfterFailure(previous);
            if (sink.Failure is { } failure)
            {
                throw CannotWrite(failure);
            }

            throw;
        }
        finally
        {
            try
            {
                file.Dispose(); // closed already when all went well
            }
            catch (Exception e) when (IsFileFailure(e))
            {
                // After a failure, closing writes what the buffer still holds and fails again: the
                // first failure is the one on its way out.
            }
        }
    }

    private static void CloseAfterFailure(FileStream file)
    {
        try
        {
            file.Dispose();
        }
        catch (Exception e) when (IsFileFailure(e))
        {
            // Closing writes what the buffer still holds and may fail again: the first failure is the one on its way out.
        }
    }

    /// <summary>Restores <paramref name="previous"/> after a failed write; a restore that fails too is left to the next run's --resume, which restores it from the state.</summary>
    public void RestoreAfterFailure(OutputCheckpoint? previous)
    {
        try
        {
            Restore(previous);
        }
        catch (CliException)
        {
        }
    }

    /// <summary>
    /// What the file system says when it refuses the file: .NET reports EFBIG (past the file
    /// system's largest file, or <c>ulimit -f</c>) as an <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    internal static bool IsFileFailure(Exception e) => CliPaths.IsFileSystemFailure(e) || e is ArgumentOutOfRangeException;

    /// <summary>
    /// The file refused (a folder in its place, a read-only folder, a full disk): an input error
    /// naming it, as <see cref="AtomicFile"/> names the small files it cannot write (exit 2).
    /// The last checkpoint still stands, so <c>--resume</c> continues from it once that is fixed.
    /// </summary>
    private CliException CannotWrite(Exception e) => CliException.Input(
        e is ArgumentOutOfRangeException
            ? $"cannot write {Path}: it would be larger than the file system, or the process's file size limit, allows."
            : $"cannot write {Path}: {e.Message}",
        e);

    /// <summary>A Parquet file ends with its footer, the footer's length (4 bytes) and "PAR1": those bytes.</summary>
    private static byte[] ReadTail(FileStream file)
    {
        Span<byte> end = stackalloc byte[8];
        file.Seek(-8, SeekOrigin.End);
        file.ReadExactly(end);
        var tail = new byte[BinaryPrimitives.ReadInt32LittleEndian(end) + 8];
        file.Seek(-tail.Length, SeekOrigin.End);
        file.ReadExactly(tail);
        return tail;
    }
}

using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace ConsentRegistry.Cli;

/// <summary>
/// Small files replaced whole: written beside the target, fsynced, renamed over it. A folder that
/// refuses the file (read-only, full, a directory in its place) is an input error naming it (exit 2).
/// </summary>
internal static class AtomicFile
{
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            // Not left beside the target when the rename (or the disk) refused it.
            DeleteQuietly(temporary);
            throw CliException.Input($"cannot write {path}: {e.Message}", e);
        }
    }

    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            // the failure that matters is the write's
        }
    }

    /// <summary>Replaces the JSON file at <paramref name="path"/> with <paramref name="value"/>.</summary>
    public static void WriteJson<T>(string path, T value, JsonTypeInfo<T> type) => WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(value, type));

    /// <summary>
    /// A run's resume state from <paramref name="path"/>; null when there is none. One that cannot
    /// be read (not JSON, or a file the system will not read) is an input error whose message ends
    /// with <paramref name="startAgain"/>.
    /// </summary>
    public static T? ReadState<T>(string path, JsonTypeInfo<T> type, string startAgain)
        where T : class
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), type) ?? throw CliException.Input($"{path}: empty resume state.");
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw CliException.Input($"{path}: unreadable resume state ({e.Message}); {startAgain}.", e);
        }
    }
}

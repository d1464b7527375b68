using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Snapshots;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Snapshots;

/// <summary>
/// The folder of index snapshots (<see cref="SnapshotOptions.Path"/>): one folder per snapshot,
/// named by its id (its seq, zero-padded, and its UTC creation time, so names sort by seq), holding
/// <c>index.snap</c> and the signed <c>manifest.json</c>. A snapshot is written in a
/// <c>.incoming-…</c> folder, made durable, and renamed into place whole, so a crash mid-write
/// leaves no folder that looks complete; start-up deletes what such a crash left.
/// </summary>
public sealed partial class SnapshotFolder(IOptions<SnapshotOptions> options, RegistryKey key, ILogger<SnapshotFolder> logger)
{
    public const string IndexFile = SnapshotManifest.IndexFileName;
    public const string ManifestFile = "manifest.json";
    private const string IncomingPrefix = ".incoming-";

    private readonly SnapshotOptions _options = options.Value;
    private SnapshotManifest? _latest;

    public string Root => Path.GetFullPath(_options.Path);

    /// <summary>The newest snapshot that was checked (at start) or written since; null when there is none.</summary>
    public SnapshotManifest? Latest => Volatile.Read(ref _latest);

    /// <summary>The snapshot this instance's index was loaded from at start; null when it was built from the store.</summary>
    public SnapshotManifest? StartedFrom { get; private set; }

    /// <summary>Whether <paramref name="id"/> has the form of a snapshot id (and so is safe as a folder name).</summary>
    public static bool IsId(string id) => IdPattern().IsMatch(id);

    /// <summary>The full path of file <paramref name="name"/> of snapshot <paramref name="id"/>, if that snapshot is kept and lists that file.</summary>
    public bool TryGetFile(string id, string name, out string path, out SnapshotFileEntry entry)
    {
        path = string.Empty;
        entry = null!;
        // The current snapshot's manifest is in memory: a download's many Range requests read no file for it.
        var manifest = Latest is { } latest && latest.Id == id ? latest : IsId(id) ? ReadManifest(Path.Combine(Root, id)) : null;
        if (manifest?.Files.FirstOrDefault(file => file.Name == name) is not { } listed)
        {
            return false;
        }

        path = Path.Combine(Root, id, listed.Name);
        entry = listed;
        return File.Exists(path);
    }

    /// <summary>
    /// Loads the newest snapshot that is valid for this store into <paramref name="index"/> and
    /// returns its manifest; every newer one that is not valid (unreadable, corrupt, of another
    /// format version, of another store, signed by another key, or ahead of the store's log) is
    /// deleted, saying why. Null when none is usable: the index is then built from the store.
    /// </summary>
    public SnapshotManifest? LoadNewest(SharedMatchingIndex index, Guid store, long storeLastSeq)
    {
        try
        {
            Directory.CreateDirectory(Root);
            DeleteIncoming();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Not starting from a snapshot: the folder {Folder} (Registry:Snapshots:Path) cannot be used: {Reason}", Root, e.Message);
            return null;
        }

        foreach (var folder in SnapshotFolders())
        {
            var id = Path.GetFileName(folder);
            var clock = Stopwatch.StartNew();
            try
            {
                var manifest = Check(folder, store, storeLastSeq);
                using (var reader = new SnapshotReader(Path.Combine(folder, IndexFile)))
                {
                    CheckHeader(reader.Header, manifest);
                    index.Load(reader);
                }

                Volatile.Write(ref _latest, manifest);
                StartedFrom = manifest;
                logger.LogInformation("Loaded index snapshot {Id} (seq {Seq}) in {Elapsed} ms", id, manifest.Seq, clock.ElapsedMilliseconds);
                return manifest;
            }
            catch (Exception e) when (e is SnapshotFormatException or FileNotFoundException)
            {
                logger.LogWarning("Discarding index snapshot {Id}: {Reason}", id, e.Message);
                TryDelete(folder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The disk or its permissions, not the snapshot: it is kept for a start that can read it.
                logger.LogWarning("Not starting from index snapshot {Id}, kept: it cannot be read: {Reason}", id, e.Message);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Not a known way for a file to be bad (a defect of the reader, or memory running
                // out): the store is the truth, and a snapshot that cannot be read must not stop
                // every start. Kept, as nothing says it is bad.
                logger.LogError(e, "Not starting from index snapshot {Id}, kept: reading it failed", id);
            }
        }

        return null;
    }

    /// <summary>
    /// Writes a snapshot of <paramref name="index"/> as it stands (other index writers wait, lookups
    /// do not), signs its manifest and puts it in place; then deletes all but the newest
    /// <see cref="SnapshotOptions.Keep"/>. Null, and nothing written, while a pass over the log is
    /// half applied (<see cref="SharedMatchingIndex.TryWriteSnapshot"/>): the caller tries again.
    /// </summary>
    public SnapshotManifest? Write(SharedMatchingIndex index, Guid store)
    {
        Directory.CreateDirectory(Root);
        var incoming = Path.Combine(Root, $"{IncomingPrefix}{Guid.NewGuid():N}");
        Directory.CreateDirectory(incoming);
        try
        {
            var created = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            var file = Path.Combine(incoming, IndexFile);
            long seq = 0;
            if (!index.TryWriteSnapshot(written =>
            {
                seq = written.AppliedSeq;
                using var writer = new SnapshotWriter(file, new SnapshotHeader(SnapshotHeader.CurrentFormat, store, seq, created));
                written.WriteSnapshot(writer);
                writer.Finish();
            }))
            {
                TryDelete(incoming);
                return null;
            }

            var id = SnapshotManifest.IdFor(seq, created);
            var manifest = key.SignManifest(new SnapshotManifest(id, seq, created, SnapshotHeader.CurrentFormat, store, [Describe(file)]));
            using (var stream = new FileStream(Path.Combine(incoming, ManifestFile), FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(manifest.ToJson());
                stream.Flush(flushToDisk: true);
            }

            SyncFolder(incoming);
            Directory.Move(incoming, Path.Combine(Root, id));
            SyncFolder(Root);
            Volatile.Write(ref _latest, manifest);
            Prune();
            return manifest;
        }
        catch
        {
            TryDelete(incoming);
            throw;
        }
    }

    private SnapshotManifest Check(string folder, Guid store, long storeLastSeq)
    {
        var id = Path.GetFileName(folder);
        // A manifest that cannot be read (permissions, a disk error) throws: the snapshot is kept, as
        // its index file is when it cannot be read; one missing or not a manifest is discarded.
        var manifest = ReadManifest(folder, throwReadErrors: true) ?? throw new SnapshotFormatException("its manifest.json is missing or not a manifest.");
        if (manifest.Id != id)
        {
            throw new SnapshotFormatException($"its manifest names the snapshot {manifest.Id}.");
        }

        if (manifest.Format != SnapshotHeader.CurrentFormat)
        {
            throw new SnapshotFormatException($"it is of format version {manifest.Format}; this build reads version {SnapshotHeader.CurrentFormat}.");
        }

        if (manifest.Store != store)
        {
            throw new SnapshotFormatException($"it was taken from another store ({manifest.Store}; this store is {store}).");
        }

        if (manifest.Seq > storeLastSeq)
        {
            throw new SnapshotFormatException($"it is at seq {manifest.Seq}, past the store's last seq {storeLastSeq} (a store restored from an older backup?).");
        }

        if (!key.HasSigned(manifest))
        {
            throw new SnapshotFormatException("its manifest is not signed by this registry's key.");
        }

        var index = manifest.Files.FirstOrDefault(file => file.Name == IndexFile) ?? throw new SnapshotFormatException("its manifest lists no index.snap.");
        var length = new FileInfo(Path.Combine(folder, IndexFile)).Length;
        return length == index.Size ? manifest : throw new SnapshotFormatException($"index.snap is {length} bytes; its manifest says {index.Size}.");
    }

    private static void CheckHeader(SnapshotHeader header, SnapshotManifest manifest)
    {
        if (!manifest.Describes(header))
        {
            throw new SnapshotFormatException("index.snap's header does not match its manifest.");
        }
    }

    /// <summary>The manifest in <paramref name="folder"/>; null when it is missing, too large or not a manifest, or (unless <paramref name="throwReadErrors"/>) cannot be read.</summary>
    private static SnapshotManifest? ReadManifest(string folder, bool throwReadErrors = false)
    {
        try
        {
            var path = Path.Combine(folder, ManifestFile);
            // Not File.Exists: it says false for a file it may not look at too, which is not a missing manifest.
            File.GetAttributes(path);
            return new FileInfo(path).Length < 1 << 20 ? SnapshotManifest.Parse(File.ReadAllBytes(path)) : null;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && !throwReadErrors)
        {
            return null;
        }
    }

    private static SnapshotFileEntry Describe(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        return new SnapshotFileEntry(Path.GetFileName(file), stream.Length, Convert.ToHexStringLower(SHA256.HashData(stream)));
    }

    /// <summary>Snapshot folders, newest (highest seq) first.</summary>
    private IEnumerable<string> SnapshotFolders() =>
        Directory.EnumerateDirectories(Root).Where(folder => IsId(Path.GetFileName(folder))).OrderByDescending(Path.GetFileName, StringComparer.Ordinal);

    private void Prune()
    {
        foreach (var folder in SnapshotFolders().Skip(_options.Keep))
        {
            TryDelete(folder);
        }
    }

    private void DeleteIncoming()
    {
        foreach (var folder in Directory.EnumerateDirectories(Root, $"{IncomingPrefix}*"))
        {
            logger.LogInformation("Deleting {Folder}, a snapshot whose writing did not finish", Path.GetFileName(folder));
            TryDelete(folder);
        }
    }

    private void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Could not delete {Folder}: {Reason}", folder, e.Message);
        }
    }

    private static void SyncFolder(string folder) => FolderSync.Flush(folder);

    [GeneratedRegex(@"^[0-9]{12,19}-[0-9]{8}T[0-9]{9}Z\z", RegexOptions.CultureInvariant)]
    private static partial Regex IdPattern();
}

using System.Text.Json;
using System.Text.Json.Serialization;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Cli.Snapshots;

/// <summary>
/// The files <c>snapshot pull</c> keeps beside its <c>--out</c> file, named from it so that several
/// outputs can share a folder, and the steps that move a download between them.
/// </summary>
internal sealed record PullPaths(string Out)
{
    /// <summary>The download in progress; renamed to <see cref="Out"/> once it is verified.</summary>
    public string Partial => Out + ".partial";

    /// <summary>Which snapshot <see cref="Partial"/> holds the start of: a resume continues only the same file.</summary>
    public string PartialState => Out + ".partial.json";

    public string Manifest => SnapshotFiles.ManifestBeside(Out);

    /// <summary>The registry key fetched on first use when no <c>--key</c> is given, and trusted from then on.</summary>
    public string PinnedKey => Out + ".registry-key.jwk";

    /// <summary>Held, never written, for the whole of a pull into <see cref="Out"/>; gone when it ends.</summary>
    public string Lock => Out + ".lock";

    /// <summary>
    /// Takes <see cref="Lock"/> (FileShare.None, an exclusive lock on Unix too) before any file beside
    /// the output is touched: two pulls into one place (two cron jobs, say) would otherwise discard or
    /// verify each other's partial downloads. Fails at once when another pull holds it.
    /// </summary>
    public FileStream TakeLock()
    {
        try
        {
            return new FileStream(Lock, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1, FileOptions.DeleteOnClose);
        }
        catch (IOException e) when (File.Exists(Lock))
        {
            throw CliException.Input($"another snapshot pull into {Out} is running (it holds {Lock}); let it finish, or pull into another file.", e);
        }
    }

    /// <summary>Removes the download in progress and its state.</summary>
    public void DiscardPartial()
    {
        File.Delete(Partial);
        File.Delete(PartialState);
    }

    /// <summary>Whether the output already is this snapshot: its manifest names the same id, and the file has the signed size and SHA-256.</summary>
    public async Task<bool> IsUpToDateAsync(SnapshotManifest manifest, SnapshotFileEntry file, CancellationToken cancellationToken)
    {
        if (!File.Exists(Out) || !File.Exists(Manifest) || new FileInfo(Out).Length != file.Size
            || SnapshotManifest.Parse(File.ReadAllBytes(Manifest))?.Id != manifest.Id)
        {
            return false;
        }

        return string.Equals(await FileSha256.OfAsync(Out, cancellationToken), file.Sha256, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Keeps a <c>.partial</c> only when it is the start of this very file; records which file that is.</summary>
    public void PreparePartial(SnapshotManifest manifest, SnapshotFileEntry file, Action<string> note)
    {
        var wanted = PartialDownload.Of(manifest, file);
        var recorded = ReadPartialState();
        if (File.Exists(Partial))
        {
            if (recorded != wanted)
            {
                note(recorded is null
                    ? $"discarding {Partial}: nothing records which snapshot it is the start of"
                    : $"discarding the unfinished download of snapshot {recorded.Id}: the registry's newest is {manifest.Id}");
                DiscardPartial();
            }
            else if (new FileInfo(Partial).Length is > 0 and var done)
            {
                note($"continuing the download of snapshot {manifest.Id} from byte {done:N0} of {file.Size:N0}");
            }
        }

        WritePartialState(wanted);
    }

    /// <summary>
    /// The verified file replaces the output by a rename, and its manifest follows. The old
    /// manifest goes first, so that at no moment does a manifest describe a file it is not of; a
    /// file left without one still opens (its id is its seq and time), and the next pull redoes it.
    /// A rename that fails (on Windows, a filter or scan holding the old file open) puts the old
    /// manifest back: it names the key that signed the installed file, which a pull without a pin
    /// or <c>--key</c> must not lose (RegistryKeyPin).
    /// </summary>
    public void Install(SnapshotManifest manifest)
    {
        var previous = File.Exists(Manifest) ? File.ReadAllBytes(Manifest) : null;
        File.Delete(Manifest);
        try
        {
            File.Move(Partial, Out, overwrite: true);
        }
        catch when (previous is not null)
        {
            AtomicFile.WriteAllBytes(Manifest, previous);
            throw;
        }

        AtomicFile.WriteAllBytes(Manifest, manifest.ToJson());
        File.Delete(PartialState);
    }

    /// <summary>The header of the snapshot in <see cref="Out"/>; null when there is no file there, or it is not a snapshot.</summary>
    public SnapshotHeader? ReadOutHeader()
    {
        if (!File.Exists(Out))
        {
            return null;
        }

        var bytes = new byte[SnapshotHeader.Size];
        using (var file = File.OpenRead(Out))
        {
            file.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        }

        try
        {
            return SnapshotHeader.Read(bytes);
        }
        catch (SnapshotFormatException)
        {
            return null; // not a snapshot
        }
    }

    /// <summary>The snapshot file <see cref="Partial"/> was begun for; null when there is no state or it is unreadable.</summary>
    public PartialDownload? ReadPartialState()
    {
        try
        {
            return File.Exists(PartialState) ? JsonSerializer.Deserialize(File.ReadAllBytes(PartialState), SnapshotCommandJson.Default.PartialDownload) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void WritePartialState(PartialDownload state) =>
        AtomicFile.WriteJson(PartialState, state, SnapshotCommandJson.Default.PartialDownload);
}

/// <summary>What a <c>.partial</c> file is the start of: the snapshot's id and its index file's size and SHA-256.</summary>
internal sealed record PartialDownload(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("sha256")] string Sha256)
{
    public static PartialDownload Of(SnapshotManifest manifest, SnapshotFileEntry file) => new(manifest.Id, file.Size, file.Sha256);
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(PartialDownload))]
[JsonSerializable(typeof(PublicJwk))]
[JsonSerializable(typeof(SnapshotInfoReport))]
internal sealed partial class SnapshotCommandJson : JsonSerializerContext;

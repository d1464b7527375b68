using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Cli.Snapshots;

/// <summary>Where a snapshot's index file and manifest are, given what the user named.</summary>
public sealed record SnapshotFiles(string IndexPath, string? ManifestPath, SnapshotManifest? Manifest)
{
    /// <summary>The manifest <c>snapshot pull</c> writes beside a file it downloads.</summary>
    public static string ManifestBeside(string indexPath) => indexPath + ".manifest.json";

    /// <summary>
    /// <paramref name="path"/> is an index file (its manifest, if any, at <see cref="ManifestBeside"/>)
    /// or a snapshot folder (<c>index.snap</c> and <c>manifest.json</c>).
    /// </summary>
    public static SnapshotFiles Locate(string path)
    {
        string index;
        string manifestPath;
        if (Directory.Exists(path))
        {
            index = Path.Combine(path, SnapshotManifest.IndexFileName);
            manifestPath = Path.Combine(path, "manifest.json");
        }
        else
        {
            index = path;
            manifestPath = ManifestBeside(path);
        }

        if (!File.Exists(index))
        {
            throw CliException.Input($"{index}: no such snapshot file.");
        }

        if (!File.Exists(manifestPath))
        {
            return new SnapshotFiles(index, null, null);
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(manifestPath);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            throw CliException.Input($"{manifestPath}: cannot read the snapshot's manifest: {e.Message}", e);
        }

        var manifest = SnapshotManifest.Parse(bytes)
            ?? throw CliException.Input($"{manifestPath}: not a snapshot manifest (JSON with id, seq, files).");
        return new SnapshotFiles(index, manifestPath, manifest);
    }
}

using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Cli.Snapshots;

/// <summary>
/// The checks a downloaded snapshot file passes before it replaces the output: the size and
/// SHA-256 of the signed manifest, then a header that agrees with it, so that a file served for
/// the right hash but taken from another store or time is refused as well.
/// </summary>
internal static class PulledFileCheck
{
    /// <summary>The signed size and SHA-256, then the header against the manifest; a file that fails is deleted (exit 4).</summary>
    public static async Task VerifyAsync(PullPaths paths, SnapshotManifest manifest, SnapshotFileEntry file, CancellationToken cancellationToken)
    {
        var length = new FileInfo(paths.Partial).Length;
        if (length != file.Size)
        {
            throw Discard(paths, $"the download is {length:N0} bytes, not the {file.Size:N0} the signed manifest gives");
        }

        var sha256 = await FileSha256.OfAsync(paths.Partial, cancellationToken);
        if (!string.Equals(sha256, file.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw Discard(paths, $"the download's SHA-256 is {sha256}, not the {file.Sha256} the signed manifest gives");
        }

        SnapshotHeader header;
        try
        {
            using var reader = new SnapshotReader(paths.Partial);
            header = reader.Header;
        }
        catch (SnapshotFormatException e)
        {
            throw Discard(paths, $"the download is not a usable index snapshot: {e.Message}");
        }

        if (!manifest.Describes(header))
        {
            throw Discard(paths, $"the file's header (seq {header.Seq}, store {header.StoreId}, created {header.Created:O}) does not agree with the signed manifest (seq {manifest.Seq}, store {manifest.Store}, created {manifest.Created:O})");
        }
    }

    private static CliException Discard(PullPaths paths, string why)
    {
        paths.DiscardPartial();
        return CliException.Verification($"{why}: it is deleted; run snapshot pull again.");
    }
}

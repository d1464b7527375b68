namespace ConsentRegistry.Cli.Scanning;

/// <summary>How img2dataset wrote a shard: a folder of files, or a webdataset tar.</summary>
public enum ShardKind
{
    Files,
    Tar,
}

/// <summary>
/// One shard of img2dataset output: <paramref name="Name"/> is its path relative to the scanned
/// folder (the key of its resume state), <paramref name="ExclusionsPath"/> where its
/// <c>&lt;shard&gt;.exclusions.parquet</c> goes, beside it.
/// </summary>
public sealed record Shard(string Name, string Path, ShardKind Kind, string ExclusionsPath)
{
    public const string ExclusionsSuffix = ".exclusions.parquet";

    /// <summary>The extensions img2dataset gives images (and the formats the decoder takes).</summary>
    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"];

    /// <summary>Folders below the scanned one that are searched: img2dataset writes shards one level down.</summary>
    private const int MaxDepth = 4;

    public static bool IsImage(string name) =>
        ImageExtensions.Contains(System.IO.Path.GetExtension(name), StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The shards under <paramref name="root"/>, in path order: every <c>*.tar</c> file, and every
    /// folder that holds images (the root itself too, when it is a shard folder named directly).
    /// </summary>
    /// <exception cref="CliException">The folder is missing or holds no shard (exit code 2).</exception>
    public static List<Shard> Find(string root)
    {
        var folder = CliPaths.Full(root);
        if (!Directory.Exists(folder))
        {
            throw CliException.Input(File.Exists(folder)
                ? $"{root} is a file: name the folder img2dataset wrote (its --output_folder)."
                : $"{root}: no such folder.");
        }

        var options = new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = MaxDepth, IgnoreInaccessible = true };
        var shards = new List<Shard>();
        foreach (var tar in Directory.EnumerateFiles(folder, "*.tar", options))
        {
            shards.Add(Create(folder, tar, ShardKind.Tar));
        }

        foreach (var directory in Directory.EnumerateDirectories(folder, "*", options).Prepend(folder))
        {
            if (HoldsImages(directory))
            {
                shards.Add(Create(folder, directory, ShardKind.Files));
            }
        }

        if (shards.Count == 0)
        {
            throw CliException.Input($"{root}: no img2dataset shard found (no *.tar file, no folder of images).");
        }

        shards.Sort((a, b) => StringComparer.Ordinal.Compare(a.Name, b.Name));
        var clash = shards.GroupBy(shard => shard.ExclusionsPath, StringComparer.Ordinal).FirstOrDefault(group => group.Count() > 1);
        if (clash is not null)
        {
            throw CliException.Input($"{string.Join(" and ", clash.Select(shard => shard.Name))} would share {clash.Key}: move one of them elsewhere.");
        }

        // The folders are walked through links to folders: one shard reached by two paths would be
        // scanned twice, counted twice, and its exclusions written over each other.
        var linked = shards.GroupBy(shard => CliPaths.Real(shard.ExclusionsPath), StringComparer.Ordinal).FirstOrDefault(group => group.Count() > 1);
        if (linked is not null)
        {
            throw CliException.Input(
                $"{string.Join(" and ", linked.Select(shard => shard.Name))} would share {linked.Key} through a symbolic link: remove the link, or move one of them elsewhere.");
        }

        // A link that is itself a shard (mirror -> 00000, or a.tar -> b.tar) names one shard twice:
        // its images would be scanned and counted twice, under two names.
        var aliased = shards.GroupBy(shard => CliPaths.Real(shard.Path), StringComparer.Ordinal).FirstOrDefault(group => group.Count() > 1);
        if (aliased is not null)
        {
            throw CliException.Input(
                $"{string.Join(" and ", aliased.Select(shard => shard.Name))} are one shard through a symbolic link (both are {aliased.Key}): remove the link.");
        }

        return shards;
    }

    /// <summary>Whether <paramref name="directory"/> holds an image file; a folder that cannot be listed is passed over, as the walk passes over those below it.</summary>
    private static bool HoldsImages(string directory)
    {
        try
        {
            return Directory.EnumerateFiles(directory).Any(IsImage);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            return false;
        }
    }

    private static Shard Create(string root, string path, ShardKind kind)
    {
        // A shard's exclusions go beside it; the root's own images (a shard folder named directly) inside it.
        var exclusions = path == root
            ? System.IO.Path.Combine(root, System.IO.Path.GetFileName(root) + ExclusionsSuffix)
            : System.IO.Path.Combine(
                System.IO.Path.GetDirectoryName(path)!,
                (kind == ShardKind.Tar ? System.IO.Path.GetFileNameWithoutExtension(path) : System.IO.Path.GetFileName(path)) + ExclusionsSuffix);
        var name = path == root ? "." : System.IO.Path.GetRelativePath(root, path);
        return new Shard(name, path, kind, exclusions);
    }

    /// <summary>
    /// What identifies the shard's content for <c>--resume</c>: the tar's length, or the folder's
    /// image count and bytes; -1 while it cannot be read (reading the shard reports why), so that
    /// a resume scans a shard again once it can be read.
    /// </summary>
    public long Size()
    {
        try
        {
            if (Kind == ShardKind.Tar)
            {
                using var tar = File.OpenRead(Path);
                return tar.Length;
            }

            return new DirectoryInfo(Path).EnumerateFiles().Where(file => IsImage(file.Name)).Sum(file => file.Length + 1);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            return -1;
        }
    }
}

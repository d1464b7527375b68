namespace ConsentRegistry.Cli;

/// <summary>Paths as the commands compare and name them.</summary>
internal static class CliPaths
{
    /// <summary>Links followed in one path before it is taken as a loop (Linux's limit).</summary>
    private const int MaxLinks = 40;

    private static readonly char[] Separators = [Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar];

    /// <summary>
    /// <paramref name="path"/> absolute, without <c>.</c> and <c>..</c> segments and without a
    /// separator at its end: <c>data/</c> and <c>data</c> are one folder, and the name of
    /// <c>images/00000/</c> is <c>00000</c>.
    /// </summary>
    public static string Full(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));

    /// <summary>
    /// Whether <paramref name="e"/> is the file system refusing (a missing file or folder, a
    /// permission, a file where a folder should be, a full disk): the commands report it, naming
    /// the path, as an input's error (exit code 2) or a shard's, never as a bug (70).
    /// </summary>
    public static bool IsFileSystemFailure(Exception e) => e is IOException or UnauthorizedAccessException;

    /// <summary>
    /// <paramref name="path"/> as <see cref="Full"/> gives it with every symbolic link on the way
    /// resolved, as the file system resolves them when the path is opened; the part that does not
    /// exist (yet) is kept as named. Two paths that lead to one file give one real path, so that
    /// an output reached through a link is still seen to be an input. A path whose links loop
    /// leads nowhere, and is given back as <see cref="Full"/> gives it.
    /// </summary>
    public static string Real(string path)
    {
        var full = Full(path);
        var real = Path.GetPathRoot(full)!;
        var rest = new Stack<string>(Parts(full[real.Length..]).Reverse());
        var links = 0;
        while (rest.TryPop(out var part))
        {
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                real = Path.GetDirectoryName(real) ?? real;
                continue;
            }

            var next = Path.Combine(real, part);
            if (LinkTarget(next) is not { } target)
            {
                real = next; // not a link, or nothing there (yet)
                continue;
            }

            if (++links > MaxLinks)
            {
                return full;
            }

            // A relative target is read from the link's folder; an absolute one from its root.
            if (Path.IsPathRooted(target))
            {
                real = Path.GetPathRoot(target)!;
                target = target[real.Length..];
            }

            foreach (var targetPart in Parts(target).Reverse())
            {
                rest.Push(targetPart);
            }
        }

        return real;
    }

    /// <summary>Where the link at <paramref name="path"/> points; null when it is no link, or when nothing there can be seen.</summary>
    private static string? LinkTarget(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (IsFileSystemFailure(e))
        {
            return null;
        }
    }

    private static IEnumerable<string> Parts(string path) => path.Split(Separators, StringSplitOptions.RemoveEmptyEntries);
}

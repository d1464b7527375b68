namespace ConsentRegistry.Cli.Filtering;

/// <summary>The filter's inputs found, and its output folders checked and created, before any file is touched.</summary>
internal static class FilterPaths
{
    /// <summary>Paths are compared as the file system does: without regard to case on Windows and macOS.</summary>
    private static readonly StringComparison PathComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    private static readonly StringComparer PathComparer = StringComparer.FromComparison(PathComparison);

    /// <summary>The Parquet files named: one file, or a folder's <c>*.parquet</c> in name order.</summary>
    public static List<string> FindInputs(string input)
    {
        var path = CliPaths.Full(input);
        if (File.Exists(path))
        {
            return [path];
        }

        if (!Directory.Exists(path))
        {
            throw CliException.Input($"{input}: no such file or folder.");
        }

        List<string> files;
        try
        {
            files = Directory.EnumerateFiles(path, "*.parquet").Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            throw CliException.Input($"{input}: the folder cannot be listed: {e.Message}", e);
        }

        return files.Count > 0 ? files : throw CliException.Input($"{input}: the folder holds no *.parquet file.");
    }

    /// <summary>
    /// Refuses, before any file is touched, outputs that would destroy an input or each other: an
    /// output file is replaced (or, on a first run, deleted) before it is written, so a kept or
    /// removed file at an input's path would lose that input, and kept and removed rows in one
    /// folder would overwrite each other. Paths are compared as named and then with their symbolic
    /// links resolved: an <c>--out</c> that links to the input's folder, or an output file that is
    /// a link to an input (or the file an input links to), is the input all the same.
    /// </summary>
    public static void CheckOutputs(List<string> inputs, string output, string? removedFolder)
    {
        var realInputs = new Dictionary<string, string>(PathComparer);
        foreach (var input in inputs)
        {
            realInputs.TryAdd(CliPaths.Real(input), input); // two inputs may be one file
        }

        foreach (var input in inputs)
        {
            var name = Path.GetFileName(input);
            CheckOutput("--out", output, Path.Combine(output, name), input, realInputs, "its output");
            if (removedFolder is not null)
            {
                CheckOutput("--removed", removedFolder, Path.Combine(removedFolder, name), input, realInputs, "its removed rows");
            }
        }

        if (removedFolder is null)
        {
            return;
        }

        if (string.Equals(removedFolder, output, PathComparison))
        {
            throw CliException.Input($"--removed {removedFolder} is the --out folder: the removed rows would overwrite the kept ones; choose another folder.");
        }

        if (CliPaths.Real(removedFolder) is var realRemoved && string.Equals(realRemoved, CliPaths.Real(output), PathComparison))
        {
            throw CliException.Input($"--removed {removedFolder} is the --out folder through a symbolic link (both are {realRemoved}): the removed rows would overwrite the kept ones; choose another folder.");
        }
    }

    /// <summary>Refuses the output file <paramref name="file"/> of <paramref name="input"/> when it is that input or, through links, any input.</summary>
    private static void CheckOutput(string option, string folder, string file, string input, Dictionary<string, string> realInputs, string what)
    {
        if (string.Equals(file, input, PathComparison))
        {
            throw CliException.Input($"{option} {folder} is the folder of the input {input}, which {what} would overwrite: choose another folder.");
        }

        var real = CliPaths.Real(file);
        if (realInputs.TryGetValue(real, out var overwritten))
        {
            throw CliException.Input(
                $"{option} {folder}: {file} is the input {overwritten} through a symbolic link (both are {real}), which {what} would overwrite: choose another folder.");
        }
    }

    /// <summary>Creates an output folder, or fails with one line naming it (a file in the way, a folder that refuses files).</summary>
    public static void CreateFolder(string option, string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            throw CliException.Input($"{option} {folder} cannot be created: {e.Message}", e);
        }
    }
}

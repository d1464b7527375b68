using System.Security.Cryptography;

namespace ConsentRegistry.Cli.Snapshots;

/// <summary>A file's SHA-256 as the manifest writes it (lowercase hex), read in large sequential reads.</summary>
internal static class FileSha256
{
    public static async Task<string> OfAsync(string path, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
    }
}

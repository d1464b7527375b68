using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using ConsentRegistry.Imaging;

namespace ConsentRegistry.Cli.Scanning;

/// <summary>
/// One image of a shard as read: its member name, the img2dataset key and URL (from the sidecar
/// <c>.json</c>, the key falling back to the member's stem), and its bytes; or, for a file too large
/// to decode, only its SHA-256 (computed while streaming) and why it was not decoded.
/// </summary>
public sealed record ShardImage(string Member, string Key, string? Url, byte[]? Bytes, string? Sha256 = null, string? Error = null);

/// <summary>
/// How a problem met while reading a shard is reported: <paramref name="unscanned"/> when some of the
/// shard's images go unscanned for it (an image file that cannot be read, a tar that ends early or
/// cannot be opened), false when the image is still looked up (without its sidecar's URL, say).
/// </summary>
public delegate void ShardErrorSink(string member, string error, bool unscanned);

/// <summary>
/// Reads the images of a shard in order, with their sidecars. Shards are untrusted input: a tar is
/// read as a stream (nothing is extracted, links are ignored), an image over
/// <see cref="ImageLimits.MaxBytes"/> is hashed but not held or decoded, and a sidecar over
/// <see cref="MaxSidecarBytes"/> is ignored. Problems that are not an image's are reported to
/// <c>error</c>, saying whether images went unscanned for them; a tar that ends early, or that the
/// tar reader cannot make sense of from some header on, ends the shard there, a shard that cannot
/// be opened at all ends before its first image, and the other shards are scanned.
/// </summary>
public static class ShardReader
{
    /// <summary>img2dataset's sidecars are a few hundred bytes; anything this large is not one.</summary>
    public const int MaxSidecarBytes = 1024 * 1024;

    public static IEnumerable<ShardImage> Read(Shard shard, ShardErrorSink error) =>
        shard.Kind == ShardKind.Tar ? ReadTar(shard.Path, error) : ReadFolder(shard.Path, error);

    /// <summary>How many images the shard holds: the folder's image files, or the tar's image members (headers only: the data is skipped).</summary>
    public static long Count(Shard shard)
    {
        if (shard.Kind == ShardKind.Files)
        {
            try
            {
                return Directory.EnumerateFiles(shard.Path).Count(Shard.IsImage);
            }
            catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
            {
                return 0; // reading the shard reports the error
            }
        }

        long count = 0;
        try
        {
            using var stream = File.OpenRead(shard.Path);
            using var tar = new TarReader(stream);
            while (tar.GetNextEntry() is { } entry)
            {
                count += IsFile(entry) && Shard.IsImage(entry.Name) ? 1 : 0;
            }
        }
        catch (Exception e) when (IsCorruptTar(e))
        {
            // Counted up to where it breaks; reading the shard reports the error.
        }

        return count;
    }

    private static IEnumerable<ShardImage> ReadFolder(string folder, ShardErrorSink error)
    {
        List<string> files;
        try
        {
            files = Directory.EnumerateFiles(folder).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            error(Path.GetFileName(folder), $"the folder cannot be read; the shard ends here ({e.Message})", unscanned: true);
            yield break;
        }

        var names = files.ToHashSet(StringComparer.Ordinal);
        foreach (var name in files.Where(Shard.IsImage))
        {
            var stem = Stem(name);
            var sidecarName = stem + ".json";
            var sidecar = names.Contains(sidecarName) ? ReadSidecarFile(Path.Combine(folder, sidecarName), sidecarName, error) : default;
            if (ReadFile(Path.Combine(folder, name), name, sidecar.Key ?? stem, sidecar.Url, error) is { } image)
            {
                yield return image;
            }
        }
    }

    private static ShardImage? ReadFile(string path, string name, string key, string? url, ShardErrorSink error)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return stream.Length > ImageLimits.MaxBytes
                ? TooLarge(name, key, url, stream)
                : new ShardImage(name, key, url, ReadExactly(stream, (int)stream.Length));
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            error(name, $"unreadable ({e.Message})", unscanned: true);
            return null;
        }
    }

    private static IEnumerable<ShardImage> ReadTar(string path, ShardErrorSink error)
    {
        using var stream = OpenTar(path, error);
        if (stream is null)
        {
            yield break;
        }

        using var tar = new TarReader(stream);
        string? sampleKey = null;
        ShardImage? pending = null;
        Sidecar sidecar = default;
        while (NextEntry(tar, path, error) is { } entry)
        {
            if (!IsFile(entry))
            {
                continue;
            }

            var name = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
            var key = Stem(name);
            if (key != sampleKey)
            {
                // webdataset keeps a sample's members together: the previous sample is complete.
                if (pending is not null)
                {
                    yield return WithSidecar(pending, sidecar);
                }

                (sampleKey, pending, sidecar) = (key, null, default);
            }

            if (Shard.IsImage(name))
            {
                if (pending is not null)
                {
                    yield return WithSidecar(pending, sidecar);
                }

                pending = ReadMember(entry, name, Path.GetFileName(key), path, error);
            }
            else if (name.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            {
                sidecar = entry.Length <= MaxSidecarBytes && ReadMemberBytes(entry, path, name, error) is { } bytes
                    ? ParseSidecar(bytes, name, error)
                    : Ignored(name, error);
            }
        }

        if (pending is not null)
        {
            yield return WithSidecar(pending, sidecar);
        }
    }

    /// <summary>
    /// The tar's bytes; null, the error reported, when it cannot be opened (permission denied, a
    /// link to nothing, gone since the scan began): the shard ends there, as a corrupt one does.
    /// </summary>
    private static FileStream? OpenTar(string path, ShardErrorSink error)
    {
        try
        {
            return File.OpenRead(path);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            error(Path.GetFileName(path), $"the tar cannot be opened; the shard ends here ({e.Message})", unscanned: true);
            return null;
        }
    }

    private static ShardImage? ReadMember(TarEntry entry, string name, string stem, string path, ShardErrorSink error)
    {
        if (entry.DataStream is null)
        {
            return new ShardImage(name, stem, null, []);
        }

        try
        {
            return entry.Length > ImageLimits.MaxBytes
                ? TooLarge(name, stem, null, entry.DataStream)
                : new ShardImage(name, stem, null, ReadExactly(entry.DataStream, (int)entry.Length));
        }
        catch (Exception e) when (IsCorruptTar(e))
        {
            error(name, $"{Path.GetFileName(path)} ends inside this member ({e.Message})", unscanned: true);
            return null;
        }
    }

    private static byte[]? ReadMemberBytes(TarEntry entry, string path, string name, ShardErrorSink error)
    {
        try
        {
            return entry.DataStream is null ? [] : ReadExactly(entry.DataStream, (int)entry.Length);
        }
        catch (Exception e) when (IsCorruptTar(e))
        {
            error(name, $"{Path.GetFileName(path)} ends inside this member ({e.Message})", unscanned: true);
            return null;
        }
    }

    private static TarEntry? NextEntry(TarReader tar, string path, ShardErrorSink error)
    {
        try
        {
            return tar.GetNextEntry();
        }
        catch (Exception e) when (IsCorruptTar(e))
        {
            error(Path.GetFileName(path), $"the tar is truncated or corrupt; the shard ends here ({e.Message})", unscanned: true);
            return null;
        }
    }

    /// <summary>
    /// Whether <paramref name="e"/>, thrown while reading a tar's headers or a member's data, says
    /// the tar is unusable from there on. TarReader throws more than the I/O and format exceptions
    /// for input it cannot read: <see cref="InvalidOperationException"/> for an oversized GNU long
    /// name or PAX block, <see cref="NotSupportedException"/> for a sparse member,
    /// <see cref="OverflowException"/> for a huge PAX size, and what else it may throw is not
    /// documented. Only a cancellation, and running out of memory, are not the tar's fault.
    /// </summary>
    private static bool IsCorruptTar(Exception e) => e is not (OperationCanceledException or OutOfMemoryException);

    private static bool IsFile(TarEntry entry) => entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile;

    /// <summary>webdataset's sample key (and img2dataset's file stem): the path up to the first dot of the file name.</summary>
    private static string Stem(string name)
    {
        var slash = name.LastIndexOf('/');
        var dot = name.IndexOf('.', slash + 1);
        return dot < 0 ? name : name[..dot];
    }

    private static ShardImage WithSidecar(ShardImage image, Sidecar sidecar) =>
        image with { Key = sidecar.Key ?? image.Key, Url = sidecar.Url };

    private static ShardImage TooLarge(string name, string key, string? url, Stream data) =>
        new(name, key, url, null, Convert.ToHexStringLower(SHA256.HashData(data)),
            $"larger than {ImageLimits.MaxBytes / (1024 * 1024)} MiB: looked up by SHA-256 and URL only, not decoded");

    private static byte[] ReadExactly(Stream stream, int length)
    {
        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>The fields of an img2dataset sidecar that the scan uses.</summary>
    private readonly record struct Sidecar(string? Key, string? Url);

    private static Sidecar ReadSidecarFile(string path, string name, ShardErrorSink error)
    {
        try
        {
            return new FileInfo(path).Length <= MaxSidecarBytes ? ParseSidecar(File.ReadAllBytes(path), name, error) : Ignored(name, error);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            error(name, $"sidecar unreadable ({e.Message}): the image is looked up without its URL", unscanned: false);
            return default;
        }
    }

    private static Sidecar Ignored(string name, ShardErrorSink error)
    {
        error(name, $"sidecar over {MaxSidecarBytes / 1024} KiB ignored: the image is looked up without its URL", unscanned: false);
        return default;
    }

    private static Sidecar ParseSidecar(byte[] bytes, string name, ShardErrorSink error)
    {
        try
        {
            using var json = JsonDocument.Parse(bytes);
            return json.RootElement.ValueKind == JsonValueKind.Object
                ? new Sidecar(Text(json.RootElement, "key"), Text(json.RootElement, "url"))
                : default;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: JSON that escapes a lone surrogate ("\ud800") is valid, but no text.
            error(name, $"sidecar is not usable JSON ({e.Message}): the image is looked up without its URL", unscanned: false);
            return default;
        }
    }

    private static string? Text(JsonElement json, string property) =>
        json.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text : null;
}

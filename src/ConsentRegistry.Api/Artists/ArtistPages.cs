using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace ConsentRegistry.Api.Artists;

/// <summary>
/// The artist pages, each composed from the shared layout and its page file under wwwroot/artists
/// the first time it is asked for and kept from then on: a request only sends the kept bytes. The
/// files are read once, so a changed page shows after the host restarts (a deploy does that).
/// </summary>
internal sealed class ArtistPages
{
    /// <summary>The layout every page is put into; like the page files it is never served as it is.</summary>
    public const string LayoutFile = "_layout.html";

    private readonly IFileProvider files;
    private readonly Dictionary<string, Lazy<ComposedPage?>> pages;

    public ArtistPages(IFileProvider webRoot, IEnumerable<string> pageFiles)
    {
        files = webRoot;
        pages = pageFiles.Distinct(StringComparer.Ordinal).ToDictionary(
            file => file,
            file => new Lazy<ComposedPage?>(() => Compose(file), LazyThreadSafetyMode.ExecutionAndPublication),
            StringComparer.Ordinal);
    }

    /// <summary>The composed page, or null when the host has no such files (started outside its publish folder).</summary>
    public ComposedPage? Get(string pageFile) => pages[pageFile].Value;

    private ComposedPage? Compose(string pageFile)
    {
        var layout = files.GetFileInfo($"artists/{LayoutFile}");
        var page = files.GetFileInfo($"artists/{pageFile}");
        if (!layout.Exists || !page.Exists)
        {
            return null;
        }

        var html = Encoding.UTF8.GetBytes(ArtistPageLayout.Compose(Read(layout), Read(page), pageFile));
        // The content's own hash: it changes when either file does, and only then.
        var etag = new EntityTagHeaderValue($"\"{Convert.ToHexStringLower(SHA256.HashData(html).AsSpan(0, 8))}\"");
        var lastModified = layout.LastModified > page.LastModified ? layout.LastModified : page.LastModified;
        return new ComposedPage(html, etag, lastModified);
    }

    private static string Read(IFileInfo file)
    {
        using var stream = file.CreateReadStream();
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}

/// <summary>A page as it is sent: UTF-8 HTML with its validators.</summary>
internal sealed record ComposedPage(byte[] Html, EntityTagHeaderValue ETag, DateTimeOffset LastModified);

namespace ConsentRegistry.LoadGen;

/// <summary>
/// A deterministic, LAION-like universe of registered subjects and looked-up URLs, so the
/// seeding run and later lookup runs (and the in-process index measurement) agree on what is
/// registered without sharing any file. Subject i is always the same string for the same size.
/// </summary>
/// <remarks>
/// Registered: 90 % exact URLs on image CDNs (long paths, query strings), 5 % URL prefixes (an
/// artist's gallery folder), 5 % hosts (an artist's site; half include their subdomains).
/// Looked up: about half hits, spread over the three kinds, a tenth of the URL hits written in a
/// non-canonical form (upper-case scheme and host, explicit default port); the misses sit on the
/// same CDNs and gallery hosts at unregistered paths, and on hosts nobody registered.
/// </remarks>
internal sealed class LookupUniverse(int subjects)
{
    private static readonly string[] Words =
    [
        "steampunk", "victorian", "gentleman", "portrait", "landscape", "sunset", "watercolor", "oil",
        "painting", "digital", "concept", "art", "dragon", "forest", "castle", "study", "sketch", "ink",
        "character", "design", "fantasy", "city", "night", "rain", "original", "commission", "print",
    ];

    public int Subjects { get; } = subjects;

    public int UrlCount => Subjects - PrefixCount - HostCount;

    public int PrefixCount => Subjects / 20;

    public int HostCount => Subjects / 20;

    private int UrlHosts => Math.Max(16, UrlCount / 200);

    private int GalleryHosts => Math.Max(4, PrefixCount / 10);

    /// <summary>The registered subjects as (kind, value, include_subdomains), in a fixed order.</summary>
    public IEnumerable<(string Kind, string Value, bool IncludeSubdomains)> RegisteredSubjects()
    {
        for (var i = 0; i < UrlCount; i++)
        {
            yield return ("url", Url(i), false);
        }

        for (var j = 0; j < PrefixCount; j++)
        {
            yield return ("url-prefix", Prefix(j), false);
        }

        for (var k = 0; k < HostCount; k++)
        {
            yield return ("host", Host(k), k % 2 == 0);
        }
    }

    /// <summary>
    /// Image hashes registered beside the universe's URLs (the scale benchmark's shares): SHA-256
    /// number i is the hash of i's eight bytes, PDQ hash number i four pseudo-random words.
    /// </summary>
    public static IEnumerable<(string Kind, string Value, bool IncludeSubdomains)> HashSubjects(int sha256, int pdq)
    {
        for (var i = 0; i < sha256; i++)
        {
            yield return ("sha256", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes((long)i))), false);
        }

        for (var i = 0; i < pdq; i++)
        {
            var seed = 4 * i;
            yield return ("pdq", $"{Mix(seed):x16}{Mix(seed + 1):x16}{Mix(seed + 2):x16}{Mix(seed + 3):x16}", false);
        }
    }

    /// <summary>Registered exact URL number <paramref name="i"/>, already canonical.</summary>
    public string Url(int i)
    {
        var mix = Mix(i);
        var host = $"img{mix % (ulong)UrlHosts}.cdn{mix % 37}.example";
        return $"https://{host}/{Hex(mix, 2)}/{Hex(mix >> 8, 2)}/{Hex(mix >> 16, 2)}/{i}-{Word(mix, 20)}-{Word(mix, 28)}-{Word(mix, 36)}.jpg?width={256 << (int)(mix % 3)}&v={mix >> 40}";
    }

    public string Prefix(int j) => $"https://gallery{(uint)j % (uint)GalleryHosts}.example/artists/{j}/";

    public string Host(int k) => $"artist{k}.example";

    /// <summary>A looked-up URL and whether the universe registers it (train-ai opted out).</summary>
    public (string Url, bool Registered) Query(Random random)
    {
        var roll = random.Next(100);
        var tag = random.Next(1_000_000);
        return roll switch
        {
            < 27 => (Url(random.Next(UrlCount)), true),
            < 30 => (NonCanonical(Url(random.Next(UrlCount))), true),
            < 40 => ($"{Prefix(random.Next(PrefixCount))}{Word((ulong)tag, 0)}/{tag}-{Word((ulong)tag, 8)}.png", true),
            < 50 => HostQuery(random.Next(HostCount), tag),
            < 75 => ($"https://img{random.Next(UrlHosts)}.cdn{random.Next(37)}.example/{Hex((ulong)tag, 2)}/unregistered/{tag}-{Word((ulong)tag, 4)}.jpg?width=512", false),
            < 85 => ($"https://gallery{random.Next(GalleryHosts)}.example/artists/{random.Next(PrefixCount)}x/{tag}.jpg", false),
            _ => ($"https://photos{tag % 50_000}.unclaimed{tag % 97}.example/{Word((ulong)tag, 12)}/{tag}/{Word((ulong)tag, 2)}-{tag}.webp?format=auto&quality=80", false),
        };
    }

    private (string, bool) HostQuery(int k, int tag) => k % 2 == 0 && tag % 2 == 0
        ? ($"https://www.{Host(k)}/works/{tag}/{Word((ulong)tag, 3)}.jpg", true) // a subdomain, covered by include_subdomains
        : ($"https://{Host(k)}/works/{tag}/{Word((ulong)tag, 3)}.jpg", true);

    private static string NonCanonical(string url) =>
        "HTTPS://" + url["https://".Length..url.IndexOf('/', "https://".Length)].ToUpperInvariant() + ":443" + url[url.IndexOf('/', "https://".Length)..];

    private static string Word(ulong mix, int shift) => Words[(int)((mix >> shift) % (ulong)Words.Length)];

    private static string Hex(ulong value, int digits) => ((uint)value & ((1u << (digits * 4)) - 1)).ToString($"x{digits}");

    /// <summary>SplitMix64: a fixed pseudo-random 64-bit value per index.</summary>
    private static ulong Mix(int i)
    {
        var z = (ulong)i + 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}

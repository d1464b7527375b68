using System.Text.Json;
using ConsentRegistry.Core.Urls;
using Xunit.Abstractions;

namespace ConsentRegistry.Core.Tests.Urls;

/// <summary>
/// toascii.json (WHATWG "domain to ASCII" cases, output null = failure) through the host
/// canonicalizer, and through the URL canonicalizer as the host of "https://input/": the cases
/// tagged urlStandardOnly are about the URL host parser (forbidden code points), which both use.
/// </summary>
public sealed class ToAsciiConformanceTests(ITestOutputHelper output)
{
    [Fact]
    public void Every_toascii_case_gives_the_canonical_host()
    {
        var failures = new List<string>();
        int run = 0;
        int viaUrl = 0;
        using JsonDocument doc = UrlTestData.Load(UrlTestData.ToAsciiPath);
        foreach (JsonElement entry in doc.RootElement.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object)
            {
                continue; // comments
            }

            run++;
            string input = entry.GetProperty("input").GetString()!;
            JsonElement outputElement = entry.GetProperty("output");
            string? expected = outputElement.ValueKind == JsonValueKind.String ? outputElement.GetString() : null;
            if (expected is not null && expected.EndsWith('.'))
            {
                expected = expected[..^1]; // registry rule: no trailing dot
            }

            bool ok = HostCanonicalizer.TryCanonicalize(input, out string? host, out string? error);
            if (ok != (expected is not null) || (ok && host != expected))
            {
                failures.Add($"host {UrlTestData.Show(input)}: got {(ok ? UrlTestData.Show(host) : "refused (" + error + ")")}, expected {UrlTestData.Show(expected)}");
            }

            // Inside a URL, unless the input has characters that end the host or that the URL
            // parser strips before it sees the host.
            if (input.AsSpan().IndexOfAny("/\\?#@:\t\n\r") >= 0)
            {
                continue;
            }

            viaUrl++;
            ok = UrlCanonicalizer.TryCanonicalize("https://" + input + "/", out CanonicalUrl url, out error);
            if (ok != (expected is not null) || (ok && url.Host.ToString() != expected))
            {
                failures.Add($"url with host {UrlTestData.Show(input)}: got {(ok ? UrlTestData.Show(url.Value) : "refused (" + error + ")")}, expected host {UrlTestData.Show(expected)}");
            }
        }

        output.WriteLine($"toascii.json: {run} cases through HostCanonicalizer, {viaUrl} also inside a URL; {failures.Count} failures.");
        Assert.True(run > 80, "toascii.json looks truncated");
        Assert.True(failures.Count == 0, $"{failures.Count} failures:\n" + string.Join("\n", failures));
    }
}

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ConsentRegistry.LoadGen;

/// <summary>Signs claims as compact ES256 JWS with the key in the header, as an artist's client would.</summary>
internal sealed class ClaimSigner : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly string _encodedHeader;

    public ClaimSigner()
    {
        var q = _key.ExportParameters(false).Q;
        var header = new Dictionary<string, object>
        {
            ["alg"] = "ES256",
            ["typ"] = "consent-claim",
            ["jwk"] = new Dictionary<string, string> { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = Encode(q.X!), ["y"] = Encode(q.Y!) },
        };
        _encodedHeader = Encode(JsonSerializer.SerializeToUtf8Bytes(header));
    }

    public string SignOptOut(IReadOnlyList<string> urls, long iat) =>
        SignOptOut(urls.Select(url => ("url", url, false)).ToList(), iat);

    /// <summary>A train-ai opt-out of any subjects: (kind, value, include_subdomains for hosts).</summary>
    public string SignOptOut(IReadOnlyList<(string Kind, string Value, bool IncludeSubdomains)> subjects, long iat)
    {
        var payload = new Dictionary<string, object>
        {
            ["v"] = 1,
            ["iat"] = iat,
            ["subjects"] = subjects.Select(Subject).ToList(),
            ["usage"] = new Dictionary<string, string> { ["train-ai"] = "n" },
        };
        var signingInput = _encodedHeader + "." + Encode(JsonSerializer.SerializeToUtf8Bytes(payload));
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Encode(signature);
    }

    private static Dictionary<string, object> Subject((string Kind, string Value, bool IncludeSubdomains) subject) =>
        subject.Kind == "host" && subject.IncludeSubdomains
            ? new() { ["kind"] = subject.Kind, ["value"] = subject.Value, ["include_subdomains"] = true }
            : new() { ["kind"] = subject.Kind, ["value"] = subject.Value };

    private static string Encode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose() => _key.Dispose();
}

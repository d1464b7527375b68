using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using ConsentRegistry.Core.Claims;
using Org.BouncyCastle.Math.EC.Rfc8032;

namespace ConsentRegistry.Benchmarks;

/// <summary>
/// What a claim's signature costs the registry to check, by algorithm: <see cref="CompactJws.TryVerify"/>
/// of a one-subject opt-out (header read, key imported, signature verified, thumbprint taken), ES256
/// (.NET's ECDsa over OpenSSL) against EdDSA (BouncyCastle's managed Ed25519).
/// </summary>
[MemoryDiagnoser]
public class SignatureBenchmarks
{
    private const string Payload = """{"v":1,"iat":1796644800,"subjects":[{"kind":"url","value":"https://artist.example/works/heron.png"}],"usage":{"train-ai":"n"}}""";

    private string _es256 = "";
    private string _eddsa = "";

    [GlobalSetup]
    public void Setup()
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var q = ecdsa.ExportParameters(false).Q;
        _es256 = Signed(
            $$$"""{"alg":"ES256","typ":"consent-claim","jwk":{"kty":"EC","crv":"P-256","x":"{{{Base64Url.Encode(q.X!)}}}","y":"{{{Base64Url.Encode(q.Y!)}}}"}}""",
            input => ecdsa.SignData(input, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));

        var secret = RandomNumberGenerator.GetBytes(Ed25519.SecretKeySize);
        var publicKey = new byte[Ed25519.PublicKeySize];
        Ed25519.GeneratePublicKey(secret, 0, publicKey, 0);
        _eddsa = Signed(
            $$$"""{"alg":"EdDSA","typ":"consent-claim","jwk":{"kty":"OKP","crv":"Ed25519","x":"{{{Base64Url.Encode(publicKey)}}}"}}""",
            input =>
            {
                var signature = new byte[Ed25519.SignatureSize];
                Ed25519.Sign(secret, 0, input, 0, input.Length, signature, 0);
                return signature;
            });
    }

    private static string Signed(string header, Func<byte[], byte[]> sign)
    {
        var input = Base64Url.Encode(Encoding.UTF8.GetBytes(header)) + "." + Base64Url.Encode(Encoding.UTF8.GetBytes(Payload));
        return input + "." + Base64Url.Encode(sign(Encoding.ASCII.GetBytes(input)));
    }

    [Benchmark(Baseline = true)]
    public bool Es256() => CompactJws.TryVerify(_es256, out _, out _) ? true : throw new InvalidOperationException("ES256 did not verify");

    [Benchmark]
    public bool EdDsa() => CompactJws.TryVerify(_eddsa, out _, out _) ? true : throw new InvalidOperationException("EdDSA did not verify");
}

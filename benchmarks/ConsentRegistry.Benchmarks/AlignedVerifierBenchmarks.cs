using BenchmarkDotNet.Attributes;
using ConsentRegistry.Imaging;
using ConsentRegistry.Imaging.LocalFeatures;
using SkiaSharp;

namespace ConsentRegistry.Benchmarks;

/// <summary>
/// What aligned verification costs the worker per picture and per comparison: a photograph (the PDQ conformance
/// bridge, 1600×1004 JPEG) decoded and its local features found (as a probe, and as a claim with its mirror
/// image), and one comparison of a 19 % crop of it against the claim (fit, overlay, PDQ and correlation).
/// </summary>
[MemoryDiagnoser]
public class AlignedVerifierBenchmarks
{
    private byte[] _photo = [];
    private AlignedClaim _claim = null!;
    private AlignedImage _crop = null!;

    [GlobalSetup]
    public void Setup()
    {
        _photo = PdqTestImage.Read("bridge-mods/aaa-orig.jpg");
        _claim = Decoded(_photo, AlignedVerifier.PrepareClaim);
        _crop = Decoded(Cropped(_photo), AlignedVerifier.Prepare);
    }

    [Benchmark]
    public AlignedImage PrepareProbe() => Decoded(_photo, AlignedVerifier.Prepare);

    [Benchmark]
    public AlignedClaim PrepareClaim() => Decoded(_photo, AlignedVerifier.PrepareClaim);

    [Benchmark]
    public AlignedComparison? Compare() => AlignedVerifier.Compare(_claim, _crop);

    private static T Decoded<T>(byte[] bytes, Func<DecodedImage, T> prepare)
    {
        using var encoded = EncodedImage.Open(bytes);
        using var decoded = encoded.Decode(ImageHashMode.Exact);
        return prepare(decoded);
    }

    private static byte[] Cropped(byte[] image)
    {
        using var bitmap = SKBitmap.Decode(image);
        var (left, top) = (bitmap.Width / 10, bitmap.Height / 10);
        using var cropped = new SKBitmap(bitmap.Width - left, bitmap.Height - top);
        using (var canvas = new SKCanvas(cropped))
        {
            canvas.DrawBitmap(bitmap, new SKRect(left, top, bitmap.Width, bitmap.Height), new SKRect(0, 0, cropped.Width, cropped.Height));
        }

        using var data = cropped.Encode(SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }
}

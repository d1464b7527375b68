using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;
using SkiaSharp;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Images;

/// <summary>
/// What the PDQ subjects are for, end to end: an artist hashes her image through POST /v1/images and
/// claims the hash; copies of it elsewhere (re-encoded, resized, rotated) are found by a dataset
/// builder who hashes what it downloaded and looks the hash up.
/// </summary>
public sealed class ImageCopiesTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;

    private static string Original => TestImages.PdqDataFile("bridge-mods/aaa-orig.jpg");

    [Fact]
    public async Task A_copy_reencoded_at_quality_50_and_halved_is_found_by_its_pdq_hash()
    {
        var original = await HashAsync(await File.ReadAllBytesAsync(Original), "image/jpeg");
        await OptOutAsync(original.GetProperty("pdq").GetString()!);

        using var bitmap = SKBitmap.Decode(Original);
        using var half = bitmap.Resize(new SKImageInfo(bitmap.Width / 2, bitmap.Height / 2), new SKSamplingOptions(SKFilterMode.Linear));
        var copy = await HashAsync(Encode(half, SKEncodedImageFormat.Jpeg, 50), "image/jpeg");
        Assert.NotEqual(original.GetProperty("sha256").GetString(), copy.GetProperty("sha256").GetString());
        Assert.Equal(bitmap.Width / 2, copy.GetProperty("width").GetInt32());

        var result = await LookupAsync(copy.GetProperty("pdq").GetString()!);

        Assert.Equal("disallow", result.GetProperty("decision").GetProperty("train-ai").GetString());
        var match = result.GetProperty("matches")[0];
        Assert.Equal("pdq", match.GetProperty("by").GetString());
        Assert.InRange(match.GetProperty("distance").GetInt32(), 0, 31);
    }

    [Fact]
    public async Task A_copy_rotated_by_90_degrees_is_found_when_the_claim_lists_the_dihedral_hashes()
    {
        using var bitmap = SKBitmap.Decode(Original);
        using var rotated = Rotate90(bitmap);
        var copy = await HashAsync(Encode(rotated, SKEncodedImageFormat.Png, 100), "image/png");
        var original = await HashAsync(await File.ReadAllBytesAsync(Original), "image/jpeg");

        // Flipped or rotated, the picture's hash is about 128 bits away: the plain hash does not catch it.
        await OptOutAsync(original.GetProperty("pdq").GetString()!);
        var before = await LookupAsync(copy.GetProperty("pdq").GetString()!);
        Assert.Equal("unknown", before.GetProperty("decision").GetProperty("train-ai").GetString());

        // The claim lists all eight dihedral variants that POST /v1/images returned (docs/pdq.md says how).
        var dihedral = original.GetProperty("pdq_dihedral").EnumerateArray().Select(h => h.GetString()!).ToArray();
        Assert.Equal(8, dihedral.Length);
        await OptOutAsync(dihedral);

        var after = await LookupAsync(copy.GetProperty("pdq").GetString()!);
        Assert.Equal("disallow", after.GetProperty("decision").GetProperty("train-ai").GetString());
        Assert.InRange(after.GetProperty("matches")[0].GetProperty("distance").GetInt32(), 0, 31);
    }

    private async Task<JsonElement> HashAsync(byte[] image, string contentType)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(image);
        file.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        form.Add(file, "file", contentType == "image/png" ? "copy.png" : "copy.jpg");
        var response = await _client.PostAsync("/v1/images", form);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.JsonAsync();
    }

    private async Task OptOutAsync(params string[] pdqHashes)
    {
        using var signer = new TestSigner();
        var claim = TestSigner.Claim(pdqHashes.Select(h => TestSigner.Subject("pdq", h)), new JsonObject { ["train-ai"] = "n" });
        var response = await _client.PostAsync("/v1/claims", Jose(signer.Sign(claim)));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private async Task<JsonElement> LookupAsync(string pdq)
    {
        var response = await _client.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { pdq } } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.JsonAsync()).GetProperty("results")[0];
    }

    private static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format, int quality)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }

    private static SKBitmap Rotate90(SKBitmap source)
    {
        var rotated = new SKBitmap(source.Height, source.Width);
        using var canvas = new SKCanvas(rotated);
        canvas.Translate(rotated.Width, 0);
        canvas.RotateDegrees(90);
        canvas.DrawBitmap(source, 0, 0);
        return rotated;
    }
}

using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using ConsentRegistry.Imaging;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;
using ConsentRegistry.Core.Pdq;
using SkiaSharp;

namespace ConsentRegistry.Api.Tests.Images;

/// <summary>POST /v1/images on the running service (DESIGN.md 5.3).</summary>
public sealed class ImagesApiTests(ImagesFixture registry) : IClassFixture<ImagesFixture>
{
    private readonly HttpClient _client = registry.Client;

    public static TheoryData<string, string, int, int> ConformanceImages()
    {
        var data = new TheoryData<string, string, int, int>();
        foreach (var line in File.ReadLines(TestImages.PdqDataFile("expected.csv")).Skip(1).Where(l => l.Trim().Length > 0))
        {
            var row = line.Trim().Split(',');
            data.Add(row[0], row[1], int.Parse(row[2], CultureInfo.InvariantCulture), int.Parse(row[3], CultureInfo.InvariantCulture));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ConformanceImages))]
    public async Task Every_conformance_image_hashes_through_the_endpoint_as_the_reference_does(
        string path, string expectedPdq, int expectedQuality, int maxBits)
    {
        var body = await _client.HashImageAsync(TestImages.ReadPdqData(path));

        var pdq = PdqHash.ParseHex(body.GetProperty("pdq").GetString()!);
        var distance = pdq.HammingDistance(PdqHash.ParseHex(expectedPdq));
        Assert.True(distance <= maxBits, $"{path}: {pdq} is {distance} bits from {expectedPdq} (allowed {maxBits})");
        if (maxBits == 0)
        {
            Assert.Equal(expectedPdq, pdq.ToHex());
            Assert.Equal(expectedQuality, body.GetProperty("quality").GetInt32());
        }

        Assert.Equal(body.GetProperty("quality").GetInt32() < 50, body.GetProperty("low_quality").GetBoolean());
    }

    [Fact]
    public async Task The_answer_names_the_file_hash_the_pdq_hash_its_eight_variants_and_the_stored_size()
    {
        var file = TestImages.ReadPdqData("reg-test-input/dih/bridge-1-original.jpg");

        var body = await _client.HashImageAsync(file);

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(file)), body.GetProperty("sha256").GetString());
        Assert.Equal(1600, body.GetProperty("width").GetInt32());
        Assert.Equal(1004, body.GetProperty("height").GetInt32());
        Assert.Equal(100, body.GetProperty("quality").GetInt32());
        Assert.False(body.GetProperty("low_quality").GetBoolean());
        Assert.Equal("jpeg", body.GetProperty("format").GetString());
        Assert.Equal("exact", body.GetProperty("mode").GetString());
        Assert.Equal(1, body.GetProperty("exif_orientation").GetInt32());
        var variants = body.GetProperty("pdq_dihedral").EnumerateArray().Select(v => v.GetString()!).ToArray();
        Assert.Equal(8, variants.Length);
        Assert.Equal(body.GetProperty("pdq").GetString(), variants[0]);

        // expected-dihedral.csv: original, rot90, rot180, rot270, flipx, flipy, flip+1, flip-1 from the reference.
        var expected = File.ReadLines(TestImages.PdqDataFile("expected-dihedral.csv"))
            .Single(l => l.StartsWith("reg-test-input/dih/bridge-1-original.jpg,", StringComparison.Ordinal)).Split(',');
        for (int t = 0; t < 8; t++)
        {
            Assert.InRange(PdqHash.ParseHex(variants[t]).HammingDistance(PdqHash.ParseHex(expected[1 + t])), 0, 10);
        }
    }

    [Fact]
    public async Task The_dihedral_variants_of_lossless_images_equal_the_reference_exactly()
    {
        foreach (var line in File.ReadLines(TestImages.PdqDataFile("expected-dihedral.csv")).Skip(1))
        {
            var row = line.Trim().Split(',');
            if (row.Length < 10 || row[9] != "0")
            {
                continue;
            }

            var body = await _client.HashImageAsync(TestImages.ReadPdqData(row[0]));

            Assert.Equal(row[1..9], body.GetProperty("pdq_dihedral").EnumerateArray().Select(v => v.GetString()!).ToArray());
        }
    }

    public static TheoryData<string> Formats => ["png", "webp", "bmp", "gif"];

    [Theory]
    [MemberData(nameof(Formats))]
    public async Task Png_lossless_webp_bmp_and_gif_uploads_of_one_picture_get_the_same_pdq_hash(string format)
    {
        using var bitmap = TestImages.Bitmap(640, 400);
        var file = format switch
        {
            "png" => TestImages.Encode(bitmap, SKEncodedImageFormat.Png),
            "webp" => TestImages.LosslessWebP(bitmap),
            "bmp" => HandWrittenImages.Bmp(640, 400),
            _ => HandWrittenImages.Gif(640, 400),
        };
        using var expected = EncodedImage.Open(TestImages.Encode(bitmap, SKEncodedImageFormat.Png)).Decode();

        var body = await _client.HashImageAsync(file);

        Assert.Equal(format, body.GetProperty("format").GetString());
        Assert.Equal(expected.Hash().Hash.ToHex(), body.GetProperty("pdq").GetString());
        Assert.Equal(640, body.GetProperty("width").GetInt32());
    }

    [Fact]
    public async Task Fast_mode_is_asked_for_in_the_query_and_lands_within_10_bits_of_the_exact_hash()
    {
        var file = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");

        var exact = await _client.HashImageAsync(file);
        var fast = await _client.HashImageAsync(file, "?mode=fast");

        Assert.Equal("fast", fast.GetProperty("mode").GetString());
        Assert.Equal(exact.GetProperty("sha256").GetString(), fast.GetProperty("sha256").GetString());
        var distance = PdqHash.ParseHex(fast.GetProperty("pdq").GetString()!)
            .HammingDistance(PdqHash.ParseHex(exact.GetProperty("pdq").GetString()!));
        Assert.InRange(distance, 0, 10);
    }

    [Fact]
    public async Task The_file_part_is_found_among_other_parts()
    {
        using var form = new MultipartFormDataContent { { new StringContent("a picture"), "title" } };
        form.Add(new ByteArrayContent(TestImages.ReadPdqData("generated/shapes-a.png")), "file", "shapes.png");

        var response = await _client.PostAsync("/v1/images", form);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Many_uploads_at_once_are_all_answered()
    {
        var file = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");

        var answers = await Task.WhenAll(Enumerable.Range(0, 24).Select(async _ =>
        {
            using var form = ImageUploads.Form(file);
            var response = await _client.PostAsync("/v1/images", form);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            return (await response.JsonAsync()).GetProperty("pdq").GetString();
        }));

        Assert.All(answers, pdq => Assert.Equal(answers[0], pdq));
    }

    [Fact]
    public async Task Without_anonymous_lookups_an_upload_needs_an_api_key()
    {
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Lookup:AllowAnonymous"] = "false" });
        using var anonymous = app.CreateClient();
        using var admin = app.CreateAdminClient();
        var file = TestImages.ReadPdqData("generated/shapes-a.png");

        using (var form = ImageUploads.Form(file))
        {
            await AssertProblemAsync(await anonymous.PostAsync("/v1/images", form), HttpStatusCode.Unauthorized, "unauthorized");
        }

        using (var form = ImageUploads.Form(file))
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/v1/images", form)).StatusCode);
        }
    }
}

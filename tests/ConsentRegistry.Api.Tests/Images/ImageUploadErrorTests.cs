using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using ConsentRegistry.Imaging;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Images;

/// <summary>
/// POST /v1/images given what it cannot hash: every refusal is a 4xx problem saying why, never a 500, and the
/// service goes on hashing.
/// </summary>
public sealed class ImageUploadErrorTests(ImagesFixture registry) : IClassFixture<ImagesFixture>
{
    private readonly HttpClient _client = registry.Client;

    public static TheoryData<string, byte[], HttpStatusCode, string> BadFiles()
    {
        var jpeg = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        var png = TestImages.ReadPdqData("generated/shapes-a.png");
        return new()
        {
            { "zero bytes", [], HttpStatusCode.BadRequest, "empty-file" },
            { "text", "not an image at all"u8.ToArray(), HttpStatusCode.UnsupportedMediaType, "unsupported-image-format" },
            { "TIFF", [.. "II*\0"u8, 8, 0, 0, 0, 0, 0], HttpStatusCode.UnsupportedMediaType, "unsupported-image-format" },
            { "PNG signature then garbage", [.. png[..8], .. Enumerable.Repeat((byte)7, 300)], HttpStatusCode.UnprocessableEntity, "corrupt-image" },
            { "JPEG cut in half", jpeg[..(jpeg.Length / 2)], HttpStatusCode.UnprocessableEntity, "truncated-image" },
            { "PNG cut in half", png[..(png.Length / 2)], HttpStatusCode.UnprocessableEntity, "truncated-image" },
            { "PNG header claiming 20000×20000", HandWrittenImages.PngHeaderOnly(20_000, 20_000), HttpStatusCode.UnprocessableEntity, "too-many-pixels" },
            { "BMP header claiming 20000×20000", HandWrittenImages.BmpHeader(20_000, 20_000, 20_000 * 60_000), HttpStatusCode.UnprocessableEntity, "too-many-pixels" },
            { "43-byte GIF: 10000×10000 screen, 1×1 frame", HandWrittenImages.GifTinyFrameOnHugeCanvas(), HttpStatusCode.UnprocessableEntity, "implausible-dimensions" },
            { "1,080-byte RLE BMP declaring 10000×10000", HandWrittenImages.RleBmp(10_000, 10_000), HttpStatusCode.UnprocessableEntity, "implausible-dimensions" },
            { "PNG declaring 10000×10000, cut after one row", HandWrittenImages.PngHeaderOnly(10_000, 10_000), HttpStatusCode.UnprocessableEntity, "implausible-dimensions" },
            { "interlaced PNG of 10000×10000", HandWrittenImages.GreyPng(10_000, 10_000, interlaced: true), HttpStatusCode.UnprocessableEntity, "too-many-pixels" },
        };
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public async Task A_file_that_cannot_be_hashed_gets_a_problem_saying_why_and_the_service_stays_healthy(
        string name, byte[] file, HttpStatusCode status, string code)
    {
        using var form = ImageUploads.Form(file, fileName: name);

        var response = await _client.PostAsync("/v1/images", form);

        await AssertProblemAsync(response, status, code);
        await _client.AssertStillHealthyAsync();
    }

    [Fact]
    public async Task A_body_that_is_not_a_multipart_form_is_unsupported_media_type()
    {
        var raw = new ByteArrayContent(TestImages.ReadPdqData("generated/shapes-a.png"));
        raw.Headers.ContentType = new MediaTypeHeaderValue("image/png");

        await AssertProblemAsync(await _client.PostAsync("/v1/images", raw), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        await AssertProblemAsync(await _client.PostAsJsonAsync("/v1/images", new { file = "aGVsbG8=" }), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        await _client.AssertStillHealthyAsync();
    }

    [Fact]
    public async Task A_form_without_a_file_part_is_a_bad_request_naming_the_part()
    {
        using var form = new MultipartFormDataContent { { new StringContent("a picture"), "title" } };
        form.Add(new ByteArrayContent(TestImages.ReadPdqData("generated/shapes-a.png")), "image", "shapes.png");

        var response = await _client.PostAsync("/v1/images", form);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "missing-file");
        Assert.True((await response.JsonAsync()).GetProperty("errors").TryGetProperty("file", out _));
    }

    [Fact]
    public async Task A_malformed_multipart_body_is_a_bad_request()
    {
        var content = new ByteArrayContent(Encoding.ASCII.GetBytes("--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc"));
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=b");

        var response = await _client.PostAsync("/v1/images", content);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-form");
        await _client.AssertStillHealthyAsync();
    }

    [Fact]
    public async Task A_multipart_content_type_without_a_boundary_is_a_bad_request()
    {
        var content = new ByteArrayContent("--x\r\n"u8.ToArray());
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data");

        await AssertProblemAsync(await _client.PostAsync("/v1/images", content), HttpStatusCode.BadRequest, "invalid-form");
    }

    [Fact]
    public async Task An_unknown_mode_is_a_validation_problem()
    {
        using var form = ImageUploads.Form(TestImages.ReadPdqData("generated/shapes-a.png"));

        var response = await _client.PostAsync("/v1/images?mode=turbo", form);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-mode");
        Assert.True((await response.JsonAsync()).GetProperty("errors").TryGetProperty("mode", out _));
    }

    [Fact]
    public async Task A_file_over_50_mib_is_payload_too_large_whether_or_not_the_length_is_announced()
    {
        var file = new byte[ImageLimits.MaxBytes + 1];
        TestImages.ReadPdqData("generated/shapes-a.png").CopyTo(file, 0);

        using (var form = ImageUploads.Form(file))
        {
            await AssertProblemAsync(await _client.PostAsync("/v1/images", form), HttpStatusCode.RequestEntityTooLarge, "image-too-large");
        }

        using (var form = ImageUploads.Form(file))
        {
            // Chunked: the limit is found while reading.
            var chunked = new StreamContent(await form.ReadAsStreamAsync());
            chunked.Headers.ContentType = form.Headers.ContentType;
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/images") { Content = chunked };
            request.Headers.TransferEncodingChunked = true;
            await AssertProblemAsync(await _client.SendAsync(request), HttpStatusCode.RequestEntityTooLarge, "image-too-large");
        }

        await _client.AssertStillHealthyAsync();
    }

    [Fact]
    public async Task Garbage_after_each_image_signature_never_produces_a_500()
    {
        var random = new Random(99);
        byte[][] signatures = [[0xFF, 0xD8, 0xFF], [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], [.. "GIF89a"u8], [.. "BM"u8], [.. "RIFF\0\0\0\0WEBPVP8 "u8]];
        var uploads = Enumerable.Range(0, 40).Select(i =>
        {
            var garbage = new byte[random.Next(0, 3000)];
            random.NextBytes(garbage);
            return (byte[])[.. signatures[i % signatures.Length], .. garbage];
        });

        foreach (var file in uploads)
        {
            using var form = ImageUploads.Form(file);
            var response = await _client.PostAsync("/v1/images", form);

            Assert.True(response.StatusCode == HttpStatusCode.OK || (int)response.StatusCode is >= 400 and < 500, $"{(int)response.StatusCode}");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }
        }

        await _client.AssertStillHealthyAsync();
    }
}

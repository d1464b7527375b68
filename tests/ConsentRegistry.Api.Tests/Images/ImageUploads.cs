using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using ConsentRegistry.Api.Tests.Infrastructure;

namespace ConsentRegistry.Api.Tests.Images;

/// <summary>One registry whose rate limits leave room for the many uploads of an image test class.</summary>
public sealed class ImagesFixture : IAsyncLifetime
{
    public RegistryApp App { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        App = await RegistryApp.StartAsync(new Dictionary<string, string?>
        {
            ["Registry:Lookup:RequestsPerSecondPerAddress"] = "100000",
            // Embedding lookups go through the approximate vector index from the first vector on.
            ["Registry:Matching:VectorIndex:MinVectors"] = "1",
        });
        Client = App.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
    }
}

/// <summary>Uploads to POST /v1/images and checks of its answers (problems: <see cref="TestHttp.AssertProblemAsync"/>).</summary>
internal static class ImageUploads
{
    /// <summary>The multipart form a browser or curl -F sends, the file in part <paramref name="part"/>.</summary>
    public static MultipartFormDataContent Form(byte[] file, string part = "file", string fileName = "image")
    {
        var form = new MultipartFormDataContent();
        var content = new ByteArrayContent(file);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(content, part, fileName);
        return form;
    }

    /// <summary>Uploads <paramref name="file"/> and returns the 200 answer, failing the test on anything else.</summary>
    public static async Task<JsonElement> HashImageAsync(this HttpClient client, byte[] file, string query = "")
    {
        using var form = Form(file);
        var response = await client.PostAsync("/v1/images" + query, form);
        var body = await response.JsonAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        return body;
    }

    /// <summary>The service is ready and still hashes a good image correctly.</summary>
    public static async Task AssertStillHealthyAsync(this HttpClient client)
    {
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
        var good = await client.HashImageAsync(TestImages.ReadPdqData("generated/shapes-a.png"));
        Assert.Equal("838e26cb0f26d9347c36d934f07bc93400cb26cb0fcb26cbfb2624d9c9b6d934", good.GetProperty("pdq").GetString());
    }
}

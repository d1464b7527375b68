using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Imaging.Embeddings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace ConsentRegistry.Api.Tests.Images;

/// <summary>POST /v1/images answers the image's embedding (DESIGN.md 5.3, 5.7), made by the configured model on the configured device.</summary>
public sealed class ImageEmbeddingTests(ImagesFixture registry) : IClassFixture<ImagesFixture>
{
    private const int ResNet18Dimensions = 512;
    private readonly HttpClient _client = registry.Client;

    [Fact]
    public async Task The_answer_carries_one_unit_vector_of_the_default_model()
    {
        var body = await _client.HashImageAsync(TestImages.ReadPdqData("reg-test-input/dih/bridge-1-original.jpg"));

        var embedding = Assert.Single(body.GetProperty("embeddings").EnumerateArray());
        Assert.Equal("resnet18-gem-v2", embedding.GetProperty("model").GetString());
        Assert.True(EmbeddingVector.TryDecode(embedding.GetProperty("value").GetString(), ResNet18Dimensions, out var vector, out var error), error);
        Assert.InRange(MathF.Sqrt(vector.Sum(v => v * v)), 0.99f, 1.01f); // float16 rounding
    }

    [Fact]
    public async Task Bulk_hashing_may_leave_the_vectors_out_and_a_bad_value_is_refused()
    {
        var file = TestImages.ReadPdqData("reg-test-input/dih/bridge-1-original.jpg");

        var body = await _client.HashImageAsync(file, "?mode=fast&embeddings=false");

        Assert.Equal(0, body.GetProperty("embeddings").GetArrayLength());
        Assert.Equal(64, body.GetProperty("pdq").GetString()!.Length);
        using var form = ImageUploads.Form(file);
        var refused = await _client.PostAsync("/v1/images?embeddings=maybe", form);
        var problem = await TestHttp.AssertProblemAsync(refused, System.Net.HttpStatusCode.BadRequest, "invalid-query");
        Assert.True(problem.GetProperty("errors").TryGetProperty("embeddings", out _));
    }

    [Fact]
    public async Task A_shrunk_low_quality_copy_is_closer_to_its_original_than_another_picture_is()
    {
        var original = TestImages.ReadPdqData("reg-test-input/dih/bridge-1-original.jpg");
        using var decoded = SKBitmap.Decode(original);
        using var small = decoded.Resize(new SKImageInfo(400, 251), new SKSamplingOptions(SKFilterMode.Linear));
        var copy = TestImages.Encode(small, SKEncodedImageFormat.Jpeg, quality: 40);
        var other = TestImages.ReadPdqData("reg-test-input/labelme-subset/q0003.jpg");

        var vectors = new List<float[]>();
        foreach (var file in new[] { original, copy, other })
        {
            var value = (await _client.HashImageAsync(file)).GetProperty("embeddings")[0].GetProperty("value").GetString();
            Assert.True(EmbeddingVector.TryDecode(value, ResNet18Dimensions, out var vector, out _));
            vectors.Add(vector);
        }

        var toCopy = EmbeddingVector.Cosine(vectors[0], vectors[1]);
        var toOther = EmbeddingVector.Cosine(vectors[0], vectors[2]);
        // Measured: 0.88 against 0.41. How close copies must be to count is the benchmark's question
        // (docs/benchmarks.md, near-duplicates); here, a copy is clearly nearer than another picture.
        Assert.True(toCopy - toOther > 0.25f, $"copy {toCopy}, other picture {toOther}");
    }

    [Fact]
    public async Task Readiness_names_the_model_and_the_execution_provider()
    {
        var ready = await _client.GetFromJsonAsync<JsonElement>("/health/ready");

        var description = ready.GetProperty("checks").GetProperty("embedding").GetProperty("description").GetString();
        Assert.StartsWith("resnet18-gem-v2 on cpu", description);
    }

    [Fact]
    public async Task By_default_the_model_loads_while_the_service_starts_not_at_the_first_image()
    {
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Embedding:LoadAtStart"] = "true" });
        using var client = app.CreateClient();

        string? description = null;
        for (var attempt = 0; attempt < 120 && description != "resnet18-gem-v2 on cpu"; attempt++)
        {
            await Task.Delay(250);
            var ready = await client.GetFromJsonAsync<JsonElement>("/health/ready");
            description = ready.GetProperty("checks").GetProperty("embedding").GetProperty("description").GetString();
        }

        Assert.Equal("resnet18-gem-v2 on cpu", description); // no "(loads at its first image)": loaded, no image sent
    }

    [Fact]
    public async Task Configured_mean_and_std_replace_the_defaults_rather_than_adding_to_them()
    {
        // As docs/embeddings.md sets them for SSCD, one environment variable per channel.
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?>
        {
            ["Registry:Embedding:Scale"] = "0.00392156863",
            ["Registry:Embedding:Mean:0"] = "0.485",
            ["Registry:Embedding:Mean:1"] = "0.456",
            ["Registry:Embedding:Mean:2"] = "0.406",
            ["Registry:Embedding:Std:0"] = "0.229",
            ["Registry:Embedding:Std:1"] = "0.224",
            ["Registry:Embedding:Std:2"] = "0.225",
        });

        var options = app.Services.GetRequiredService<IOptions<EmbeddingModelOptions>>().Value;
        Assert.NotNull(options.Mean);
        Assert.NotNull(options.Std);
        Assert.Equal([0.485f, 0.456f, 0.406f], options.Mean);
        Assert.Equal([0.229f, 0.224f, 0.225f], options.Std);
        using var client = app.CreateClient();
        var body = await client.HashImageAsync(TestImages.ReadPdqData("reg-test-input/dih/bridge-1-original.jpg"));
        Assert.Equal("resnet18-gem-v2", Assert.Single(body.GetProperty("embeddings").EnumerateArray()).GetProperty("model").GetString());
    }

    [Fact]
    public async Task A_model_that_fails_to_load_leaves_the_service_ready_but_degraded_saying_why()
    {
        var broken = Path.Combine(Path.GetTempPath(), $"broken-model-{Guid.NewGuid():N}.onnx");
        await File.WriteAllBytesAsync(broken, "this is not an ONNX model"u8.ToArray());
        try
        {
            await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?>
            {
                ["Registry:Embedding:ModelPath"] = broken,
                ["Registry:Embedding:LoadAtStart"] = "true",
            });
            using var client = app.CreateClient();

            JsonElement ready = default;
            for (var attempt = 0; attempt < 120; attempt++)
            {
                await Task.Delay(250);
                var response = await client.GetAsync("/health/ready");
                Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode); // lookups and claims still serve
                ready = await response.Content.ReadFromJsonAsync<JsonElement>();
                if (ready.GetProperty("checks").GetProperty("embedding").GetProperty("status").GetString() != "Healthy")
                {
                    break;
                }
            }

            var embedding = ready.GetProperty("checks").GetProperty("embedding");
            Assert.Equal("Degraded", embedding.GetProperty("status").GetString());
            Assert.Contains("failed to load", embedding.GetProperty("description").GetString());
        }
        finally
        {
            File.Delete(broken);
        }
    }

    [Fact]
    public async Task While_the_model_will_not_load_images_answer_503_lookup_items_with_embeddings_their_own_error_and_it_is_not_reloaded_at_every_use()
    {
        var broken = Path.Combine(Path.GetTempPath(), $"broken-model-{Guid.NewGuid():N}.onnx");
        await File.WriteAllBytesAsync(broken, "this is not an ONNX model"u8.ToArray());
        try
        {
            await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Embedding:ModelPath"] = broken });
            using var client = app.CreateClient();
            var vector = new float[512];
            vector[0] = 1;

            using var image = await client.PostAsync("/v1/images", ImageUploads.Form(TestImages.ReadPdqData("generated/shapes-a.png")));
            var results = await client.LookupItemsAsync(
                new JsonObject { ["embeddings"] = new JsonArray(new JsonObject { ["model"] = "resnet18-gem-v2", ["value"] = EmbeddingVector.Encode(vector) }) },
                new JsonObject { ["url"] = "https://model-down.example/a.jpg" });
            using var again = await client.PostAsync("/v1/images", ImageUploads.Form(TestImages.ReadPdqData("generated/shapes-a.png")));

            await TestHttp.AssertProblemAsync(image, System.Net.HttpStatusCode.ServiceUnavailable, "unavailable");
            Assert.Equal(TimeSpan.FromSeconds(30), image.Headers.RetryAfter?.Delta);
            Assert.Equal(("embedding-model-unavailable", "embeddings"),
                (results[0].GetProperty("error").GetProperty("code").GetString(), results[0].GetProperty("error").GetProperty("field").GetString()));
            Assert.Equal("unknown", results[1].GetProperty("decision").GetProperty("train-ai").GetString());
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, again.StatusCode);
            Assert.Single(app.Logs, line => line.Contains("failed to load", StringComparison.Ordinal)); // one try for the three uses
        }
        finally
        {
            File.Delete(broken);
        }
    }

    [Theory]
    [InlineData("cuda", "-p:EmbeddingDevice=cuda")]
    [InlineData("tpu", "expected 'cpu' or 'cuda'")]
    public async Task A_device_this_build_cannot_run_stops_the_start_with_what_to_do(string device, string advice)
    {
        // The test machines have no GPU build of ONNX Runtime: asking for CUDA must not fall back to the CPU.
        var failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Embedding:Device"] = device });
        });

        Assert.Contains(advice, Flatten(failure));
    }

    [Fact]
    public async Task A_model_file_that_is_not_there_stops_the_start_naming_it()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"no-model-{Guid.NewGuid():N}.onnx");

        var failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Embedding:ModelPath"] = missing });
        });

        Assert.Contains(missing, Flatten(failure));
    }

    private static string Flatten(Exception e) => e.InnerException is null ? e.Message : e.Message + " | " + Flatten(e.InnerException);
}

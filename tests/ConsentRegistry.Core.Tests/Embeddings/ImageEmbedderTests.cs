using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Core.Tests.Pdq;
using ConsentRegistry.Imaging;
using ConsentRegistry.Imaging.Embeddings;

namespace ConsentRegistry.Core.Tests.Embeddings;

/// <summary>The bundled ResNet18 embedder on the PDQ test photographs (Meta's bridge and its edits).</summary>
public sealed class ImageEmbedderTests : IClassFixture<ImageEmbedderTests.Bundled>
{
    private readonly ImageEmbedder _embedder;

    public ImageEmbedderTests(Bundled bundled) => _embedder = bundled.Embedder;

    [Fact]
    public void The_bundled_model_loads_with_a_dynamic_batch_and_gives_unit_vectors_of_its_512_channels()
    {
        Assert.Equal(EmbeddingModelOptions.DefaultModelId, _embedder.ModelId);
        Assert.Equal(512, _embedder.Dimensions);
        Assert.Equal("cpu", _embedder.Provider);

        var vector = _embedder.Embed([Input("bridge-mods/aaa-orig.jpg")])[0];

        Assert.Equal(1.0, Math.Sqrt(vector.Sum(x => (double)x * x)), 4);
    }

    [Fact]
    public void A_batch_gives_each_image_the_vector_it_gets_alone()
    {
        string[] files = ["bridge-mods/aaa-orig.jpg", "bridge-mods/blur-a-lot.jpg", "misc-images/small.jpg"];
        var inputs = files.Select(Input).ToList();

        var together = _embedder.Embed(inputs);

        for (var i = 0; i < files.Length; i++)
        {
            var alone = _embedder.Embed([inputs[i]])[0];
            Assert.True(EmbeddingVector.Cosine(alone, together[i]) > 0.9999f, files[i]);
        }
    }

    [Fact]
    public void Edits_of_a_photograph_stay_closer_to_it_than_an_unrelated_image()
    {
        var original = _embedder.Embed([Input("bridge-mods/aaa-orig.jpg")])[0];
        var unrelated = EmbeddingVector.Cosine(original, _embedder.Embed([Input("misc-images/small.jpg")])[0]);

        foreach (var edit in new[] { "blur-a-lot.jpg", "high-contrast.jpg", "shrink-a-lot.jpg", "square-256x256.jpg" })
        {
            var similarity = EmbeddingVector.Cosine(original, _embedder.Embed([Input("bridge-mods/" + edit)])[0]);
            Assert.True(similarity > unrelated, $"{edit}: {similarity:F3}, unrelated image {unrelated:F3}");
        }
    }

    [Fact]
    public void Asking_for_cuda_on_the_cpu_build_stops_with_a_clear_message_instead_of_running_on_the_cpu()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new ImageEmbedder(new EmbeddingModelOptions { Device = "cuda" }));

        Assert.Contains("no CUDA execution provider", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_model_file_is_named()
    {
        var error = Assert.Throws<FileNotFoundException>(() => new ImageEmbedder(new EmbeddingModelOptions { ModelPath = "/nonexistent/model.onnx" }));

        Assert.Contains("/nonexistent/model.onnx", error.Message, StringComparison.Ordinal);
    }

    private float[] Input(string path)
    {
        using var decoded = EncodedImage.Open(PdqTestData.Read(path)).Decode();
        return EmbeddingInput.From(decoded, _embedder.InputSize);
    }

    /// <summary>One embedder for the class: loading the 64 MB model takes a moment.</summary>
    public sealed class Bundled : IDisposable
    {
        public ImageEmbedder Embedder { get; } = new(new EmbeddingModelOptions { IntraOpThreads = 2 });

        public void Dispose() => Embedder.Dispose();
    }
}

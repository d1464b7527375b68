using ConsentRegistry.Imaging.Embeddings;

namespace ConsentRegistry.Core.Tests.Embeddings;

/// <summary>Registry:Embedding's per-channel normalisation: unset, the defaults; set, exactly what was set.</summary>
public sealed class EmbeddingModelOptionsTests
{
    [Fact]
    public void Unset_mean_and_std_normalise_with_zero_and_one_per_channel()
    {
        var options = new EmbeddingModelOptions();

        Assert.Null(options.Mean);
        Assert.Null(options.Std);
        Assert.Equal([0f, 0f, 0f], options.EffectiveMean);
        Assert.Equal([1f, 1f, 1f], options.EffectiveStd);
        Assert.DoesNotContain(options.Problems("Registry:Embedding"), p => p.Contains("Mean"));
    }

    [Fact]
    public void Set_mean_and_std_are_used_as_they_are_and_a_wrong_count_is_a_problem()
    {
        var options = new EmbeddingModelOptions { Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f] };

        Assert.Equal([0.485f, 0.456f, 0.406f], options.EffectiveMean);
        Assert.Equal([0.229f, 0.224f, 0.225f], options.EffectiveStd);
        Assert.DoesNotContain(options.Problems("Registry:Embedding"), p => p.Contains("Mean"));

        options.Mean = [0f, 0f, 0f, 0.485f, 0.456f, 0.406f];
        Assert.Contains("Registry:Embedding:Mean and Std take 3 values each (Std above 0).", options.Problems("Registry:Embedding"));
    }

    [Fact]
    public void The_bundled_model_may_not_label_its_vectors_with_an_id_its_earlier_input_had()
    {
        var pinned = new EmbeddingModelOptions { Id = "resnet18-gem-v1" };
        var custom = new EmbeddingModelOptions { Id = "resnet18-gem-v1", ModelPath = typeof(EmbeddingModelOptionsTests).Assembly.Location };

        Assert.Contains(pinned.Problems("Registry:Embedding"), p => p.StartsWith("Registry:Embedding:Id is 'resnet18-gem-v1'", StringComparison.Ordinal));
        Assert.DoesNotContain(new EmbeddingModelOptions().Problems("Registry:Embedding"), p => p.Contains(":Id is"));
        Assert.DoesNotContain(custom.Problems("Registry:Embedding"), p => p.Contains(":Id is")); // another model's own id is its operator's choice
    }
}

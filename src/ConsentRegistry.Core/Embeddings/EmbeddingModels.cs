namespace ConsentRegistry.Core.Embeddings;

/// <summary>
/// The embedding models whose vectors this registry takes, in claims and in lookups, with the
/// length of their vectors. A vector of any other model is refused rather than stored unmatched:
/// vectors of different models are never compared (DESIGN.md 5.7). A length may be known only once
/// its model is loaded, so it is read at the first vector that needs it.
/// </summary>
public sealed class EmbeddingModels
{
    /// <summary>The most vectors one image (a lookup item) may bring.</summary>
    public const int MaxVectorsPerImage = 16;

    private readonly Dictionary<string, Lazy<int>> _models;

    public EmbeddingModels(IEnumerable<KeyValuePair<string, Lazy<int>>> models) => _models = new(models, StringComparer.Ordinal);

    /// <summary>No model: every vector is refused.</summary>
    public static EmbeddingModels None { get; } = new([]);

    public static EmbeddingModels Of(string id, int dimensions) => new([new(id, new Lazy<int>(dimensions))]);

    /// <summary>
    /// Reads one vector as sent (<c>{"model","value"}</c>): the model must be one of these, the
    /// value that model's length, finite and of length 1 (within 0.01; the vector returned is scaled
    /// to exactly 1). <paramref name="field"/> is "model" or "value", the member the error is about.
    /// </summary>
    public bool TryRead(string? model, string? value, out float[] vector, out string? field, out string? error)
    {
        vector = [];
        field = "model";
        if (string.IsNullOrEmpty(model))
        {
            error = "model is required: the id of the model that made the vector, as POST /v1/images gives it.";
            return false;
        }

        if (!_models.TryGetValue(model, out var dimensions))
        {
            error = _models.Count == 0
                ? "This registry takes no embeddings."
                : $"model '{Shorten(model)}' is not one this registry compares; it takes {string.Join(", ", _models.Keys.Select(k => $"'{k}'"))}.";
            return false;
        }

        field = "value";
        if (!EmbeddingVector.TryDecode(value, dimensions.Value, out vector, out error))
        {
            return false;
        }

        var length = EmbeddingVector.Length(vector);
        if (Math.Abs(length - 1) > 0.01)
        {
            vector = [];
            error = $"An embedding is L2-normalised (length 1); this one has length {length:0.###}.";
            return false;
        }

        EmbeddingVector.Normalise(vector);
        field = null;
        return true;
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";
}

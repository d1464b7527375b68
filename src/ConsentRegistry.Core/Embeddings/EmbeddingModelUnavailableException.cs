namespace ConsentRegistry.Core.Embeddings;

/// <summary>
/// The registry's embedding model could not be loaded, so vectors cannot be checked or made now:
/// a service problem (503, or a lookup item's own error), not a fault of the request.
/// </summary>
public sealed class EmbeddingModelUnavailableException(string model, Exception reason)
    : Exception($"The embedding model '{model}' is not available: {reason.Message}", reason)
{
    public string Model { get; } = model;
}

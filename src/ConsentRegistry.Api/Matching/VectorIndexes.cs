using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Api.Matching;

/// <summary>The approximate vector index <c>Registry:Matching:VectorIndex</c> asks for, made new or loaded from a snapshot.</summary>
public static class VectorIndexes
{
    /// <summary>The settings the matching index is built with, or null when the approximate index is off.</summary>
    public static ApproximateVectorSettings? Settings(VectorIndexOptions options) =>
        options.MinVectors <= 0
            ? null
            : new ApproximateVectorSettings(dimensions => Create(dimensions, options), options.MinVectors, options.Candidates)
            {
                Open = (dimensions, layout, saved) => Open(dimensions, options, layout, saved),
            };

    /// <summary>Sign codes need 64 coordinates at least; a shorter model's vectors go to the graph.</summary>
    private static bool UsesSignCodes(int dimensions, VectorIndexOptions options) =>
        options.Kind == VectorIndexOptions.SignCodes && dimensions >= SignCodeVectors.MinDimensions;

    private static IApproximateVectors Create(int dimensions, VectorIndexOptions options) =>
        UsesSignCodes(dimensions, options) ? new SignCodeVectors(dimensions) : new UsearchVectors(dimensions, options);

    /// <summary>A saved index, when <paramref name="layout"/> is what these settings would make now; otherwise null (it is built again).</summary>
    private static IApproximateVectors? Open(int dimensions, VectorIndexOptions options, string layout, NativeBuffer saved)
    {
        if (!UsesSignCodes(dimensions, options))
        {
            return UsearchVectors.Open(dimensions, options, layout, saved);
        }

        return SignCodeVectors.OpenSaved(dimensions, layout, saved);
    }
}

using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Core.Matching;

/// <summary>One indexed hash within a search's radius: the value it was added with, and its distance.</summary>
public readonly record struct PdqHit(int Value, int Distance);

/// <summary>
/// Receives the hits of a <see cref="PdqIndex"/> search, each exactly once. A struct (or a ref
/// struct) sink is called without boxing or a delegate.
/// </summary>
public interface IPdqHitSink
{
    /// <summary>An indexed <paramref name="hash"/>, added with <paramref name="value"/>, is <paramref name="distance"/> bits from the query.</summary>
    void Add(int value, int distance, in PdqHash hash);
}

/// <summary>A sink that appends <see cref="PdqHit"/>s to a list (tests, tools).</summary>
public readonly struct PdqHitList(List<PdqHit> hits) : IPdqHitSink
{
    /// <inheritdoc/>
    public void Add(int value, int distance, in PdqHash hash) => hits.Add(new PdqHit(value, distance));
}

namespace ConsentRegistry.Core.Pdq;

/// <summary>A PDQ hash and its quality (0 to 100; below 50 the hash is unreliable for matching).</summary>
public readonly record struct PdqResult(PdqHash Hash, int Quality);

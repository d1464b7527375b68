using System.Text.Json;

namespace ConsentRegistry.NearDup;

/// <summary>One edited copy of an original: what the evaluation expects a method to match.</summary>
public sealed record EditEntry(string Kind, string Path, string Original);

/// <summary>
/// The set written by <c>build</c> and read by <c>evaluate</c>; paths are absolute. <see cref="Sources"/> holds the
/// file each original was made from (same order as <see cref="Originals"/>).
/// </summary>
public sealed record Manifest(
    List<string> Originals, List<EditEntry> Edits, List<string> Distractors, string DedupRule, int DistractorsDropped,
    List<string>? Sources = null)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public const string FileName = "manifest.json";

    public void Save(string folder) =>
        File.WriteAllText(System.IO.Path.Combine(folder, FileName), JsonSerializer.Serialize(this, Json));

    public static Manifest Load(string folder) =>
        JsonSerializer.Deserialize<Manifest>(File.ReadAllText(System.IO.Path.Combine(folder, FileName)), Json)
        ?? throw new InvalidDataException("Empty manifest.");
}

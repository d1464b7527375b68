using System.Text.Json;
using ConsentRegistry.Imaging;
using ConsentRegistry.Imaging.Embeddings;

namespace ConsentRegistry.NearDup;

/// <summary>
/// Writes the bundled model's feature maps (before pooling) of every image of a set, and of a background
/// set, so pooling, views and whitening can be studied without running the model again: for each image
/// the map of the whole picture and of its content trimmed of uniform margins (<see cref="ContentBounds"/>),
/// as float16 in <c>features.bin</c>, described by <c>features.json</c>.
/// </summary>
public static class FeatureDump
{
    public sealed record Entry(string Role, string Path, string? Kind, int Original, int Width, int Height, PixelRegion Trimmed);

    public sealed record Index(int Channels, int MapHeight, int MapWidth, int Views, List<Entry> Entries);

    public static void Run(string folder, IReadOnlyList<string> background)
    {
        var manifest = Manifest.Load(folder);
        var originals = manifest.Originals.Select((path, i) => (path, i)).ToDictionary(x => x.path, x => x.i);
        var jobs = new List<(string Role, string Path, string? Kind, int Original)>();
        jobs.AddRange(manifest.Originals.Select((p, i) => ("original", p, (string?)null, i)));
        jobs.AddRange(manifest.Edits.Select(e => ("edit", e.Path, (string?)e.Kind, originals[e.Original])));
        jobs.AddRange(manifest.Distractors.Select(p => ("distractor", p, (string?)null, -1)));
        jobs.AddRange(background.Select(p => ("background", p, (string?)null, -1)));

        // Background images must not be copies of an original (the set's own rule), or whitening learns them.
        var originalHashes = manifest.Originals.Select(ImageFiles.TryHashDihedral).OfType<ConsentRegistry.Core.Pdq.PdqDihedral>().ToList();
        var copies = 0;
        using var embedder = new ImageEmbedder(new EmbeddingModelOptions { IntraOpThreads = 1 });
        var results = new (Entry Entry, Half[] Maps)?[jobs.Count];
        int[]? dims = null;
        var done = 0;
        Parallel.For(0, jobs.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var job = jobs[i];
            try
            {
                using var encoded = EncodedImage.Open(File.ReadAllBytes(job.Path));
                using var decoded = encoded.Decode(ImageHashMode.Exact);
                if (job.Role == "background"
                    && originalHashes.Any(o => SetBuilder.MinDistance(o, decoded.Hash().Hash) <= SetBuilder.DedupDistance))
                {
                    Interlocked.Increment(ref copies);
                    return;
                }

                var trimmed = ContentBounds.Find(decoded);
                var (values, d) = embedder.FeatureMaps([
                    EmbeddingInput.From(decoded, embedder.InputSize),
                    EmbeddingInput.From(decoded, embedder.InputSize, trimmed)]);
                dims ??= d;
                results[i] = (new Entry(job.Role, job.Path, job.Kind, job.Original, decoded.Width, decoded.Height, trimmed),
                    values.Select(v => (Half)v).ToArray());
            }
            catch (Exception e) when (e is ImageDecodeException or IOException or ArgumentException or InvalidOperationException)
            {
                Console.WriteLine($"  skipped {job.Path}: {e.Message}");
            }

            if (Interlocked.Increment(ref done) % 500 == 0)
            {
                Console.WriteLine($"  {done}/{jobs.Count}");
            }
        });

        var kept = results.Where(r => r is not null).Select(r => r!.Value).ToList();
        using (var file = File.Create(System.IO.Path.Combine(folder, "features.bin")))
        {
            foreach (var (_, maps) in kept)
            {
                file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(maps.AsSpan()));
            }
        }

        var index = new Index(dims![1], dims[2], dims[3], 2, kept.Select(k => k.Entry).ToList());
        File.WriteAllText(System.IO.Path.Combine(folder, "features.json"), JsonSerializer.Serialize(index));
        Console.WriteLine($"features: {kept.Count} images, maps {dims[1]}×{dims[2]}×{dims[3]}, 2 views each; {copies} background copies of originals left out");
    }
}

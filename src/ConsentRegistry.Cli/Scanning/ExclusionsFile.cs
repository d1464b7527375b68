using ConsentRegistry.Cli.Deciding;
using ConsentRegistry.Cli.Filtering;
using ConsentRegistry.Core.Matching;
using Parquet;
using Parquet.Schema;

namespace ConsentRegistry.Cli.Scanning;

/// <summary>One image to leave out of the dataset: where it is, its keys, and the registry's verdict.</summary>
public sealed record Exclusion(string Key, string Member, string? Url, string Sha256, string? Pdq, int? Quality, Verdict Verdict);

/// <summary>
/// <c>&lt;shard&gt;.exclusions.parquet</c>: the images of one shard to exclude, one row each, with the
/// decision per category and the claims that decided it (the columns the filter adds to removed
/// rows), so that a training job drops them by <c>key</c>. Written whole and renamed into place:
/// a file that exists is complete. A shard with nothing to exclude gets a file with no rows.
/// </summary>
public static class ExclusionsFile
{
    public const string MatchedByColumn = "matched_by";

    private static readonly DataField Key = new("key", typeof(string), false);
    private static readonly DataField Member = new("member", typeof(string), false);
    private static readonly DataField Url = new("url", typeof(string), true);
    private static readonly DataField Sha256 = new("sha256", typeof(string), false);
    private static readonly DataField Pdq = new("pdq", typeof(string), true);
    private static readonly DataField Quality = new("pdq_quality", typeof(int), true);
    private static readonly DataField[] Decisions = [.. ParquetFileFilter.DecisionColumns.Select(name => new DataField(name, typeof(string), false))];
    private static readonly DataField Claims = new(ParquetFileFilter.ClaimsColumn, typeof(string), true);
    private static readonly DataField MatchedBy = new(MatchedByColumn, typeof(string), true);

    private static readonly ParquetSchema Schema = new([Key, Member, Url, Sha256, Pdq, Quality, .. Decisions, Claims, MatchedBy]);

    public static async Task WriteAsync(string path, IReadOnlyList<Exclusion> rows, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(Schema, buffer, cancellationToken: cancellationToken))
        {
            writer.CustomMetadata = metadata;
            if (rows.Count > 0)
            {
                using var group = writer.CreateRowGroup();
                await group.WriteAsync(Key, Column(rows, row => row.Key));
                await group.WriteAsync(Member, Column(rows, row => row.Member));
                await group.WriteAsync(Url, Column(rows, row => row.Url));
                await group.WriteAsync(Sha256, Column(rows, row => row.Sha256));
                await group.WriteAsync(Pdq, Column(rows, row => row.Pdq));
                await group.WriteAsync<int>(Quality, rows.Select(row => row.Quality).ToArray(), cancellationToken: cancellationToken);
                for (var category = 0; category < Decisions.Length; category++)
                {
                    await group.WriteAsync(Decisions[category], Column(rows, row => Decision.ToWire(row.Verdict.Decision[category])));
                }

                await group.WriteAsync(Claims, Column(rows, row => row.Verdict.Claims));
                await group.WriteAsync(MatchedBy, Column(rows, row => row.Verdict.MatchedBy));
                group.CompleteValidate();
            }
        }

        AtomicFile.WriteAllBytes(path, buffer.ToArray());
    }

    private static string?[] Column(IReadOnlyList<Exclusion> rows, Func<Exclusion, string?> select) => [.. rows.Select(select)];
}

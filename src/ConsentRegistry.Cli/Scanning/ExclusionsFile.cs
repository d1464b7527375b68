using ConsentRegistry.Cli.Deciding;
using ConsentRegistry.Cli.Filtering;
using ConsentRegistry.Core.Matching;
using ParquetSharp;
using ParquetSharp.Schema;

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

    public static Task WriteAsync(string path, IReadOnlyList<Exclusion> rows, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var buffer = new MemoryStream();
        using (var schema = Schema())
        using (var properties = new WriterPropertiesBuilder().Compression(Compression.Snappy).Build())
        using (var writer = new ParquetFileWriter(buffer, schema, properties, metadata, leaveOpen: true))
        {
            if (rows.Count > 0)
            {
                using var group = writer.AppendRowGroup();
                Write(group, rows.Select(row => row.Key));
                Write(group, rows.Select(row => row.Member));
                Write(group, rows.Select(row => row.Url));
                Write(group, rows.Select(row => row.Sha256));
                Write(group, rows.Select(row => row.Pdq));
                Write(group, rows.Select(row => row.Quality));
                for (var category = 0; category < ParquetFileFilter.DecisionColumns.Length; category++)
                {
                    Write(group, rows.Select(row => Decision.ToWire(row.Verdict.Decision[category])));
                }

                Write(group, rows.Select(row => row.Verdict.Claims));
                Write(group, rows.Select(row => row.Verdict.MatchedBy));
            }

            writer.Close();
        }

        AtomicFile.WriteAllBytes(path, buffer.ToArray()); // a folder that refuses it: exit 2 naming it

        return Task.CompletedTask;
    }

    /// <summary>The next column of <paramref name="group"/>, in schema order.</summary>
    private static void Write<T>(RowGroupWriter group, IEnumerable<T> values)
    {
        using var column = group.NextColumn();
        using var writer = column.LogicalWriter<T>();
        writer.WriteBatch([.. values]);
    }

    private static GroupNode Schema()
    {
        using var text = LogicalType.String();
        using var int32 = LogicalType.Int(32, isSigned: true);
        Node[] fields =
        [
            Strings("key", optional: false),
            Strings("member", optional: false),
            Strings("url", optional: true),
            Strings("sha256", optional: false),
            Strings("pdq", optional: true),
            new PrimitiveNode("pdq_quality", Repetition.Optional, int32, PhysicalType.Int32),
            .. ParquetFileFilter.DecisionColumns.Select(name => Strings(name, optional: false)),
            Strings(ParquetFileFilter.ClaimsColumn, optional: true),
            Strings(MatchedByColumn, optional: true),
        ];
        try
        {
            return new GroupNode("schema", Repetition.Required, fields);
        }
        finally
        {
            foreach (var field in fields)
            {
                field.Dispose();
            }
        }

        PrimitiveNode Strings(string name, bool optional) =>
            new(name, optional ? Repetition.Optional : Repetition.Required, text, PhysicalType.ByteArray);
    }
}

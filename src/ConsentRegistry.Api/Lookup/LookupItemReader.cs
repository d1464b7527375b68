using System.Buffers;
using System.Text.Json;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Core.Embeddings;

namespace ConsentRegistry.Api.Lookup;

/// <summary>One lookup item as read from the wire: the item, or why it could not be read.</summary>
public readonly record struct ReadItem(LookupItem? Item, LookupError? Error);

/// <summary>
/// Reads lookup bodies with a <see cref="Utf8JsonReader"/>, so that a member of the wrong type is
/// that item's own error (its field's code) and the rest of the batch is still answered.
/// Unknown members are skipped; for a repeated member the last one counts.
/// </summary>
internal static class LookupItemReader
{
    /// <summary>Reads <c>{"items": [...]}</c>; <paramref name="problem"/> says why the body as a whole is refused.</summary>
    public static List<ReadItem>? ReadBatch(in ReadOnlySequence<byte> body, int maxBatch, out string? problem)
    {
        var reader = new Utf8JsonReader(WithoutByteOrderMark(body));
        List<ReadItem>? items = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                problem = BatchShape;
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isItems = reader.ValueTextEquals("items"u8);
                reader.Read();
                if (!isItems)
                {
                    reader.Skip();
                    continue;
                }

                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    problem = BatchShape;
                    return null;
                }

                items = [];
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (items.Count == maxBatch)
                    {
                        problem = TooMany(maxBatch);
                        return null;
                    }

                    items.Add(ReadValue(ref reader));
                }
            }

            reader.Read(); // throws on anything after the object
        }
        catch (JsonException e)
        {
            problem = $"The body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1} of that line); send {{\"items\": [{{\"url\": \"https://…\"}}]}}.";
            return null;
        }
        catch (InvalidOperationException)
        {
            problem = NotUnicode; // a member name of the body itself (an item's own is that item's error)
            return null;
        }

        if (items is not { Count: > 0 })
        {
            problem = items is null ? BatchShape : TooMany(maxBatch);
            return null;
        }

        problem = null;
        return items;
    }

    /// <summary><paramref name="text"/> without the UTF-8 byte order mark it may begin with (which <see cref="Utf8JsonReader"/> refuses).</summary>
    public static ReadOnlySequence<byte> WithoutByteOrderMark(in ReadOnlySequence<byte> text)
    {
        if (text.Length < 3)
        {
            return text;
        }

        Span<byte> start = stackalloc byte[3];
        text.Slice(0, 3).CopyTo(start);
        return start.SequenceEqual("\uFEFF"u8) ? text.Slice(3) : text;
    }

    /// <summary>Reads one NDJSON line: a single JSON object, nothing after it but whitespace.</summary>
    public static ReadItem ReadLine(in ReadOnlySequence<byte> line)
    {
        if (line.IsEmpty)
        {
            return new ReadItem(null, NotAnObject);
        }

        var reader = new Utf8JsonReader(line);
        try
        {
            reader.Read();
            var item = ReadValue(ref reader);
            if (reader.Read())
            {
                return new ReadItem(null, InvalidJson);
            }

            return item;
        }
        catch (JsonException)
        {
            return new ReadItem(null, InvalidJson);
        }
    }

    private static string TooMany(int maxBatch) => $"items holds 1 to {maxBatch} items; send more through /v1/lookup/stream.";

    private const string BatchShape = "The body is a JSON object with an array \"items\", such as {\"items\": [{\"url\": \"https://…\"}]}.";

    private static readonly LookupError NotAnObject = new("invalid-item", null, "Each item is a JSON object such as {\"url\": \"https://…\"}.");

    private static readonly LookupError InvalidJson = new("invalid-json", null, "The line is not a single JSON object such as {\"url\": \"https://…\"}.");

    private const string NotUnicode = "The body escapes a lone UTF-16 surrogate (such as \"\\ud800\"), which is not text; send {\"items\": [{\"url\": \"https://…\"}]}.";

    private static readonly LookupError ItemNotUnicode = new("invalid-item", null,
        "The item escapes a lone UTF-16 surrogate (such as \"\\ud800\") in a member or its name, which is not text.");

    /// <summary>
    /// Reads the value at the reader's current token, leaving the reader on its last token. The reader
    /// accepts an escaped lone UTF-16 surrogate ("\ud800") but cannot turn it into a string or compare
    /// it as a name: such an item is that item's error, and the reader moves on to the item's end.
    /// </summary>
    private static ReadItem ReadValue(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return new ReadItem(null, NotAnObject);
        }

        var depth = reader.CurrentDepth;
        try
        {
            return ReadObject(ref reader);
        }
        catch (InvalidOperationException)
        {
            while (!(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
            {
                reader.Read(); // malformed JSON further on still throws JsonException, as elsewhere
            }

            return new ReadItem(null, ItemNotUnicode);
        }
    }

    /// <summary>Reads an item object from its start token to its end token.</summary>
    private static ReadItem ReadObject(ref Utf8JsonReader reader)
    {

        string? url = null, sha256 = null, pdq = null;
        int? maxDistance = null, quality = null;
        double? minSimilarity = null;
        List<LookupEmbedding>? embeddings = null;
        LookupError? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("url"u8))
            {
                reader.Read();
                url = ReadString(ref reader, UrlNotString, ref error);
            }
            else if (reader.ValueTextEquals("sha256"u8))
            {
                reader.Read();
                sha256 = ReadString(ref reader, Sha256NotString, ref error);
            }
            else if (reader.ValueTextEquals("pdq"u8))
            {
                reader.Read();
                pdq = ReadString(ref reader, LookupEngine.InvalidPdq, ref error);
            }
            else if (reader.ValueTextEquals("max_distance"u8))
            {
                reader.Read();
                maxDistance = ReadInt(ref reader, LookupEngine.InvalidMaxDistance, ref error);
            }
            else if (reader.ValueTextEquals("quality"u8))
            {
                reader.Read();
                quality = ReadInt(ref reader, LookupEngine.InvalidQuality, ref error);
            }
            else if (reader.ValueTextEquals("embeddings"u8))
            {
                reader.Read();
                embeddings = ReadEmbeddings(ref reader, ref error);
            }
            else if (reader.ValueTextEquals("min_similarity"u8))
            {
                reader.Read();
                minSimilarity = ReadDouble(ref reader, LookupEngine.InvalidMinSimilarity, ref error);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return error is null
            ? new ReadItem(new LookupItem(url, sha256, pdq, maxDistance, quality, embeddings, minSimilarity), null)
            : new ReadItem(null, error);
    }

    private static readonly LookupError UrlNotString = new(ProblemCodes.InvalidUrl, "url", "url is a string, an http(s) URL.");

    private static readonly LookupError Sha256NotString = new("invalid-sha256", "sha256", "sha256 is a string, 64 hexadecimal digits.");

    private static readonly LookupError EmbeddingsShape = new(LookupEngine.InvalidEmbeddingCode, "embeddings",
        $"embeddings is an array of 1 to {EmbeddingModels.MaxVectorsPerImage} objects {{\"model\", \"value\"}}, as POST /v1/images gives them.");

    /// <summary>Reads <c>[{"model","value"}, …]</c>; more than the most an image may bring is an error, read no further.</summary>
    private static List<LookupEmbedding>? ReadEmbeddings(ref Utf8JsonReader reader, ref LookupError? error)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            error ??= EmbeddingsShape;
            return null;
        }

        var embeddings = new List<LookupEmbedding>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject || embeddings.Count == EmbeddingModels.MaxVectorsPerImage)
            {
                reader.Skip();
                error ??= EmbeddingsShape;
                continue;
            }

            string? model = null, value = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isModel = reader.ValueTextEquals("model"u8);
                var isValue = reader.ValueTextEquals("value"u8);
                reader.Read();
                if (isModel)
                {
                    model = ReadString(ref reader, EmbeddingsShape, ref error);
                }
                else if (isValue)
                {
                    value = ReadString(ref reader, EmbeddingsShape, ref error);
                }
                else
                {
                    reader.Skip();
                }
            }

            embeddings.Add(new LookupEmbedding(model, value));
        }

        return embeddings;
    }

    private static double? ReadDouble(ref Utf8JsonReader reader, LookupError wrongType, ref LookupError? error)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var value))
        {
            return value;
        }

        reader.Skip();
        error ??= wrongType;
        return null;
    }

    private static string? ReadString(ref Utf8JsonReader reader, LookupError wrongType, ref LookupError? error)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return reader.GetString();
            case JsonTokenType.Null:
                return null;
            default:
                reader.Skip();
                error ??= wrongType;
                return null;
        }
    }

    private static int? ReadInt(ref Utf8JsonReader reader, LookupError wrongType, ref LookupError? error)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var value))
        {
            return value;
        }

        reader.Skip();
        error ??= wrongType;
        return null;
    }
}

using System.Text.Json;
using ConsentRegistry.Core.Embeddings;
using FluentValidation;

namespace ConsentRegistry.Core.Claims;

/// <summary>A claim whose signature, header and payload are all valid, with subjects in canonical form.</summary>
public sealed record VerifiedClaim(
    string Id,
    string ContentHash,
    string Jws,
    string Party,
    string Algorithm,
    long Iat,
    IReadOnlyList<Subject> Subjects,
    Usage Usage,
    string? Title,
    string? License,
    string? Contact);

/// <summary>A revocation whose signature and payload are valid; the store checks that the signer owns the claim.</summary>
public sealed record VerifiedRevocation(string Id, string ContentHash, string Jws, string Party, long Iat, string Revokes);

/// <summary>Turns a compact JWS into a <see cref="VerifiedClaim"/> or says, field by field, why not.</summary>
public sealed class ClaimVerifier(TimeProvider time, EmbeddingModels? embeddingModels = null)
{
    private readonly ClaimPayloadValidator _claimValidator = new(time, embeddingModels);
    private readonly RevocationPayloadValidator _revocationValidator = new(time);

    public bool TryVerifyClaim(string compact, out VerifiedClaim? claim, out ClaimError? error)
    {
        claim = null;
        if (!CompactJws.TryVerify(compact, out var jws, out error))
        {
            return false;
        }

        if (!TryDeserialize(jws!.Payload, PayloadJsonContext.Default.ClaimPayload, ClaimTitle, out var payload, out error))
        {
            // Members of the wrong type are listed with what the rest of the payload gets wrong.
            if (ReadWithoutMistypedMembers(jws.Payload, PayloadJsonContext.Default.ClaimPayload) is ({ } rest, { } mistyped))
            {
                error = Combine(mistyped, _claimValidator.Validate(rest), ClaimTitle);
            }

            return false;
        }

        var context = new ValidationContext<ClaimPayload>(payload!);
        var result = _claimValidator.Validate(context);
        if (!result.IsValid)
        {
            error = InvalidPayload(result, ClaimTitle);
            return false;
        }

        var usage = new Preference[UseCategories.All.Count];
        // Duplicate categories are refused when the payload is read, so each is set once here.
        foreach (var (category, value) in payload!.Usage!)
        {
            UseCategories.TryParsePreference(value, out usage[UseCategories.IndexOf(category)]);
        }

        claim = new VerifiedClaim(
            jws.Id,
            jws.ContentHash,
            compact,
            jws.Party,
            jws.Algorithm,
            payload.Iat!.Value,
            (List<Subject>)context.RootContextData[ClaimPayloadValidator.CanonicalSubjectsKey],
            Usage.FromValues(usage).WithHierarchyApplied(),
            payload.Title,
            payload.Terms?.License,
            payload.Terms?.Contact);
        return true;
    }

    public bool TryVerifyRevocation(string compact, out VerifiedRevocation? revocation, out ClaimError? error)
    {
        revocation = null;
        if (!CompactJws.TryVerify(compact, out var jws, out error))
        {
            return false;
        }

        if (!TryDeserialize(jws!.Payload, PayloadJsonContext.Default.RevocationPayload, RevocationTitle, out var payload, out error))
        {
            if (ReadWithoutMistypedMembers(jws.Payload, PayloadJsonContext.Default.RevocationPayload) is ({ } rest, { } mistyped))
            {
                error = Combine(mistyped, _revocationValidator.Validate(rest), RevocationTitle);
            }

            return false;
        }

        var result = _revocationValidator.Validate(payload!);
        if (!result.IsValid)
        {
            error = InvalidPayload(result, RevocationTitle);
            return false;
        }

        revocation = new VerifiedRevocation(jws.Id, jws.ContentHash, compact, jws.Party, payload!.Iat!.Value, payload.Revokes!);
        return true;
    }

    private const string ClaimTitle = "The claim payload is not valid.";
    private const string RevocationTitle = "The revocation payload is not valid.";

    private static bool TryDeserialize<T>(byte[] json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string title, out T? value, out ClaimError? error)
        where T : class
    {
        error = null;
        try
        {
            value = JsonSerializer.Deserialize(json, type);
        }
        catch (JsonException e)
        {
            value = null;
            var field = FieldOf(e.Path) ?? "payload";
            error = ClaimError.Field(ClaimErrorCodes.InvalidPayload, title, field, DescribeJsonError(e));
            return false;
        }

        if (value is null)
        {
            error = ClaimError.Field(ClaimErrorCodes.InvalidPayload, title, "payload", "The payload must be a JSON object.");
            return false;
        }

        return true;
    }

    /// <summary>
    /// The reader stops at the first member of the wrong type (or unknown), so the payload is read
    /// again member by member: each member that cannot be read alone is a field error of its own,
    /// and the others are read together for the validator. Null when the payload is not a JSON
    /// object at all, or repeats a member (the first error, as reported, is all there is to say).
    /// </summary>
    private static (T? Others, Dictionary<string, (string Field, string Message)>? Mistyped) ReadWithoutMistypedMembers<T>(byte[] json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object || document.RootElement.EnumerateObject().Count() > MaxMembersReadAlone)
            {
                return (null, null);
            }

            var mistyped = new Dictionary<string, (string Field, string Message)>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var good = new System.Buffers.ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(good))
            {
                writer.WriteStartObject();
                foreach (var member in document.RootElement.EnumerateObject())
                {
                    if (!seen.Add(member.Name))
                    {
                        return (null, null);
                    }

                    if (ReadsAlone(member, type) is { } error)
                    {
                        mistyped[member.Name] = error;
                        continue;
                    }

                    member.WriteTo(writer);
                }

                writer.WriteEndObject();
            }

            // A field named with a lone surrogate could not be written in the answer: the first error stands.
            return mistyped.Count == 0 || mistyped.Values.Any(e => !IsWellFormed(e.Field))
                ? (null, null)
                : (JsonSerializer.Deserialize(good.WrittenSpan, type), mistyped);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a name escaping a lone surrogate, which cannot be read as a string.
            return (null, null);
        }
    }

    /// <summary>Null when <paramref name="member"/> reads as a member of <typeparamref name="T"/> on its own; otherwise where and why not.</summary>
    private static (string Field, string Message)? ReadsAlone<T>(JsonProperty member, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        var alone = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(alone))
        {
            writer.WriteStartObject();
            member.WriteTo(writer);
            writer.WriteEndObject();
        }

        try
        {
            JsonSerializer.Deserialize(alone.WrittenSpan, type);
            return null;
        }
        catch (JsonException e)
        {
            return (FieldOf(e.Path) ?? member.Name, DescribeJsonError(e));
        }
    }

    /// <summary>
    /// Members read one by one at most: a payload has six, so more are unknown ones, each of which
    /// would cost an exception; past this the first error is all that is said.
    /// </summary>
    private const int MaxMembersReadAlone = 32;

    /// <summary>The field a reader's JSON path names ("$.subjects[2].value" → "subjects[2].value"); null for the payload itself.</summary>
    private static string? FieldOf(string? path) => path switch
    {
        null or "$" => null,
        _ when path.StartsWith("$.", StringComparison.Ordinal) => path[2..],
        _ when path.StartsWith('$') => path[1..],
        _ => path,
    };

    private static bool IsWellFormed(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The mistyped members' errors and the validator's, less what the validator says of the members left out (such as "required").</summary>
    private static ClaimError Combine(Dictionary<string, (string Field, string Message)> mistyped, FluentValidation.Results.ValidationResult others, string title)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var (field, message) in mistyped.Values)
        {
            errors[field] = errors.TryGetValue(field, out var said) ? [.. said, message] : [message];
        }

        foreach (var group in others.Errors.GroupBy(e => e.PropertyName, StringComparer.Ordinal))
        {
            if (!mistyped.Keys.Any(name => group.Key == name || group.Key.StartsWith(name + ".", StringComparison.Ordinal) || group.Key.StartsWith(name + "[", StringComparison.Ordinal)))
            {
                errors[group.Key] = group.Select(e => e.ErrorMessage).Distinct().ToArray();
            }
        }

        return new ClaimError(ClaimErrorCodes.InvalidPayload, title, errors);
    }

    private static string DescribeJsonError(JsonException e) =>
        e.Message.Contains("could not be mapped", StringComparison.Ordinal)
            ? "Unknown member; the payload has only the members of its version."
            : e.Path is null or "$" && e.LineNumber is 0 && e.BytePositionInLine is 0
                ? "The payload must be a JSON object."
                : "Not valid JSON for this member (wrong type or malformed).";

    private static ClaimError InvalidPayload(FluentValidation.Results.ValidationResult result, string title) =>
        new(ClaimErrorCodes.InvalidPayload, title,
            result.Errors
                .GroupBy(e => e.PropertyName, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).Distinct().ToArray(), StringComparer.Ordinal));
}

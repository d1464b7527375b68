using System.Text.Json.Nodes;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Policy;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace ConsentRegistry.Api.Hosting;

/// <summary>
/// The answers' closed sets of words, which their records carry as strings (the handlers write them
/// with a Utf8JsonWriter): a decision as an object of the five use categories, each <c>allow</c>,
/// <c>disallow</c> or <c>unknown</c>; a match's <c>by</c> as a subject kind; a claim's <c>trust</c>
/// as its level. The values come from the code that writes them, so the document cannot drift.
/// </summary>
internal sealed class WireValueSchemas : ISchemaFilter
{
    private static readonly string[] Permissions = [.. new[] { Permission.Allow, Permission.Disallow, Permission.Unknown }.Select(Decision.ToWire)];

    private static readonly string[] MatchedBy = [.. Enum.GetValues<MatchKind>().Select(kind => kind.ToWire())];

    private static readonly string[] TrustLevels = [.. new[] { TrustLevel.Signed, TrustLevel.Domain, TrustLevel.Reviewed }.Select(trust => trust.ToWire())];

    private static readonly HashSet<Type> WithDecision = [typeof(LookupResult), typeof(PolicyResponse)];

    private static readonly HashSet<Type> WithMatchedBy = [typeof(LookupMatch), typeof(PolicyMatch)];

    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is not OpenApiSchema { Properties: { } properties })
        {
            return;
        }

        if (WithDecision.Contains(context.Type) && properties.TryGetValue("decision", out var decision))
        {
            properties["decision"] = DecisionSchema(decision.Type?.HasFlag(JsonSchemaType.Null) == true);
        }

        if (WithMatchedBy.Contains(context.Type) && properties.TryGetValue("by", out var by) && by is OpenApiSchema byValues)
        {
            byValues.Enum = Words(MatchedBy);
        }

        if (properties.TryGetValue("trust", out var trust) && trust is OpenApiSchema { Type: { } type } trustValues && type.HasFlag(JsonSchemaType.String))
        {
            trustValues.Enum = Words(TrustLevels);
        }
    }

    private static OpenApiSchema DecisionSchema(bool nullable)
    {
        var schema = new OpenApiSchema
        {
            Type = nullable ? JsonSchemaType.Object | JsonSchemaType.Null : JsonSchemaType.Object,
            Description = "What the registry answers for each use category.",
            Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal),
            Required = new HashSet<string>(UseCategories.All, StringComparer.Ordinal),
            AdditionalPropertiesAllowed = false,
        };
        foreach (var category in UseCategories.All)
        {
            schema.Properties[category] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = Words(Permissions) };
        }

        return schema;
    }

    private static List<JsonNode> Words(IEnumerable<string> words) => [.. words.Select(word => (JsonNode)JsonValue.Create(word))];
}

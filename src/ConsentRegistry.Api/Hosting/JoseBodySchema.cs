using ConsentRegistry.Api.Claims;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace ConsentRegistry.Api.Hosting;

/// <summary>
/// An <c>application/jose</c> body is the compact JWS itself (RFC 7515, section 7.1), not the
/// <c>{"jws": …}</c> envelope that <c>application/json</c> takes; the API explorer gives both media
/// types the envelope's schema, so the document would tell a generated client to send JSON as JOSE.
/// </summary>
internal sealed class JoseBodySchema : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.RequestBody?.Content is { } content && content.TryGetValue(JwsBody.JoseMediaType, out var jose))
        {
            jose.Schema = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Description = "The compact JWS: its header, payload and signature in base64url, joined by dots.",
            };
        }
    }
}

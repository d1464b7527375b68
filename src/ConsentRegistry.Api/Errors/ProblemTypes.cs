namespace ConsentRegistry.Api.Errors;

/// <summary>Stable problem types (RFC 9457 <c>type</c>); clients may branch on the matching <c>code</c>.</summary>
public static class ProblemTypes
{
    public const string Prefix = "urn:consent-registry:problem:";

    public static string Of(string code) => Prefix + code;
}

namespace ConsentRegistry.Core.Claims;

public static class ClaimId
{
    public static bool IsWellFormed(string? id) =>
        id is { Length: 64 } && !id.AsSpan().ContainsAnyExcept(LowerHex);

    private static readonly System.Buffers.SearchValues<char> LowerHex =
        System.Buffers.SearchValues.Create("0123456789abcdef");
}

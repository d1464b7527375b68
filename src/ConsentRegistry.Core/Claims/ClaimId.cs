namespace ConsentRegistry.Core.Claims;

public static class ClaimId
{
    public static bool IsWellFormed(string? id) => id is not null && IsWellFormed(id.AsSpan());

    public static bool IsWellFormed(ReadOnlySpan<char> id) =>
        id.Length == 64 && !id.ContainsAnyExcept(LowerHex);

    private static readonly System.Buffers.SearchValues<char> LowerHex =
        System.Buffers.SearchValues.Create("0123456789abcdef");
}

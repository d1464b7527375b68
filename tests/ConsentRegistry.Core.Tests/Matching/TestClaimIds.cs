using System.Text;

namespace ConsentRegistry.Core.Tests.Matching;

/// <summary>
/// Readable names as claim ids: the index holds only well-formed ids (64 hex characters), so a
/// test names a claim "old" or "c10" and the id is that name's bytes in hex, zero-padded.
/// </summary>
internal static class TestClaimIds
{
    /// <summary>The id for <paramref name="name"/>; a name that is a well-formed id already is its own id.</summary>
    public static string Of(string name)
    {
        if (Core.Claims.ClaimId.IsWellFormed(name))
        {
            return name;
        }

        var bytes = Encoding.ASCII.GetBytes(name);
        if (bytes.Length > 31)
        {
            throw new ArgumentException("Test claim names have at most 31 characters.", nameof(name));
        }

        return Convert.ToHexStringLower(bytes).PadRight(64, '0');
    }

    public static string Name(string id) => Encoding.ASCII.GetString(Convert.FromHexString(id)).TrimEnd('\0');
}

using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Core.Matching;

/// <summary>What the registry answers for one category of one looked-up item.</summary>
public enum Permission : byte
{
    Unknown = 0,
    Allow = 1,
    Disallow = 2,
}

/// <summary>A permission per use category, in <see cref="UseCategories.All"/> order.</summary>
public readonly record struct Decision(Permission Tdm, Permission TrainAi, Permission TrainGenAi, Permission AiUse, Permission Search)
{
    public static Decision Unknown => default;

    public Permission this[int category] => category switch
    {
        0 => Tdm,
        1 => TrainAi,
        2 => TrainGenAi,
        3 => AiUse,
        4 => Search,
        _ => throw new ArgumentOutOfRangeException(nameof(category)),
    };

    public static string ToWire(Permission permission) => permission switch
    {
        Permission.Allow => "allow",
        Permission.Disallow => "disallow",
        _ => "unknown",
    };

    internal static Decision From(ReadOnlySpan<Permission> values) => new(values[0], values[1], values[2], values[3], values[4]);
}

/// <summary>How an item matched a claim's subject.</summary>
public enum MatchKind : byte
{
    Url,
    UrlPrefix,
    Host,
    Sha256,
    Pdq,
    Embedding,
}

public static class MatchKinds
{
    public static string ToWire(this MatchKind kind) => kind switch
    {
        MatchKind.Url => SubjectKinds.Url,
        MatchKind.UrlPrefix => SubjectKinds.UrlPrefix,
        MatchKind.Host => SubjectKinds.Host,
        MatchKind.Sha256 => SubjectKinds.Sha256,
        MatchKind.Embedding => SubjectKinds.Embedding,
        _ => SubjectKinds.Pdq,
    };
}

/// <summary>A claim that decided an item: which claim, by which kind of key, (PDQ) how far, (embedding) how similar.</summary>
public readonly record struct Match(int Claim, MatchKind By, int Distance = 0, float Similarity = 0);

namespace ConsentRegistry.Core.Claims;

/// <summary>What a claim says about one use category.</summary>
public enum Preference : byte
{
    Unset = 0,
    Yes = 1,
    No = 2,
}

/// <summary>
/// The use categories of DESIGN.md section 2, in their fixed order. <c>train-genai</c> inherits from
/// <c>train-ai</c>, which inherits from <c>tdm</c>; <c>ai-use</c> and <c>search</c> stand alone.
/// </summary>
public static class UseCategories
{
    public const string Tdm = "tdm";
    public const string TrainAi = "train-ai";
    public const string TrainGenAi = "train-genai";
    public const string AiUse = "ai-use";
    public const string Search = "search";

    public static IReadOnlyList<string> All { get; } = [Tdm, TrainAi, TrainGenAi, AiUse, Search];

    public static int IndexOf(string name) => name switch
    {
        Tdm => 0,
        TrainAi => 1,
        TrainGenAi => 2,
        AiUse => 3,
        Search => 4,
        _ => -1,
    };

    public static bool TryParsePreference(string? value, out Preference preference)
    {
        preference = value switch
        {
            "y" => Preference.Yes,
            "n" => Preference.No,
            _ => Preference.Unset,
        };
        return preference != Preference.Unset;
    }

    public static string? ToWire(Preference preference) => preference switch
    {
        Preference.Yes => "y",
        Preference.No => "n",
        _ => null,
    };
}

/// <summary>A claim's preference for each category, in <see cref="UseCategories.All"/> order.</summary>
public readonly record struct Usage(
    Preference Tdm,
    Preference TrainAi,
    Preference TrainGenAi,
    Preference AiUse,
    Preference Search)
{
    public Preference this[int category] => category switch
    {
        0 => Tdm,
        1 => TrainAi,
        2 => TrainGenAi,
        3 => AiUse,
        4 => Search,
        _ => throw new ArgumentOutOfRangeException(nameof(category)),
    };

    /// <summary>Fills categories the claim left out from their parent in the same claim.</summary>
    public Usage WithHierarchyApplied()
    {
        var trainAi = TrainAi == Preference.Unset ? Tdm : TrainAi;
        var trainGenAi = TrainGenAi == Preference.Unset ? trainAi : TrainGenAi;
        return this with { TrainAi = trainAi, TrainGenAi = trainGenAi };
    }

    public static Usage FromValues(ReadOnlySpan<Preference> values) =>
        new(values[0], values[1], values[2], values[3], values[4]);
}

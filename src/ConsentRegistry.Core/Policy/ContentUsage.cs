using System.Text;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Core.Policy;

/// <summary>
/// The IETF AI-preferences usage expression: an RFC 8941 dictionary of lower-case category keys
/// with the tokens <c>y</c> and <c>n</c>, for the categories that resolve to allow or disallow.
/// </summary>
public static class ContentUsage
{
    /// <summary><c>train-ai=n, search=y</c>; empty when every category is unknown.</summary>
    public static string Format(Decision decision)
    {
        var text = new StringBuilder(48);
        Append(text, decision);
        return text.ToString();
    }

    public static void Append(StringBuilder text, Decision decision)
    {
        var first = true;
        for (var category = 0; category < UseCategories.All.Count; category++)
        {
            var permission = decision[category];
            if (permission == Permission.Unknown)
            {
                continue;
            }

            // Keys are lcalpha *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) and y/n are bare tokens: no quoting needed.
            text.Append(first ? "" : ", ").Append(UseCategories.All[category]).Append('=').Append(permission == Permission.Allow ? 'y' : 'n');
            first = false;
        }
    }

    /// <summary>Per category the stronger answer: disallow over allow over unknown (the aipref combination rule).</summary>
    public static Decision Combine(Decision a, Decision b) => new(
        Max(a.Tdm, b.Tdm), Max(a.TrainAi, b.TrainAi), Max(a.TrainGenAi, b.TrainGenAi), Max(a.AiUse, b.AiUse), Max(a.Search, b.Search));

    /// <summary>
    /// What drives robots.txt <c>Disallow</c> for the AI crawlers: training, generative training or
    /// mining disallowed (most of those crawlers gather for generative models, so a <c>train-genai=n</c>
    /// alone keeps them out too; their <c>Content-Usage</c> lines carry the finer preference).
    /// </summary>
    public static bool DisallowsTraining(Decision decision) =>
        decision.TrainAi == Permission.Disallow || decision.TrainGenAi == Permission.Disallow || decision.Tdm == Permission.Disallow;

    /// <summary>The categories <paramref name="decision"/> disallows, the others unknown.</summary>
    public static Decision RefusalsOf(Decision decision) => new(
        Refusal(decision.Tdm), Refusal(decision.TrainAi), Refusal(decision.TrainGenAi), Refusal(decision.AiUse), Refusal(decision.Search));

    private static Permission Refusal(Permission permission) => permission == Permission.Disallow ? permission : Permission.Unknown;

    private static Permission Max(Permission a, Permission b) => a > b ? a : b;
}

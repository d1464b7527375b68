using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Policy;

namespace ConsentRegistry.Core.Tests.Policy;

public sealed class ContentUsageTests
{
    [Fact]
    public void Only_allowed_and_disallowed_categories_appear_as_y_and_n_tokens_in_category_order()
    {
        var decision = new Decision(Permission.Unknown, Permission.Disallow, Permission.Disallow, Permission.Unknown, Permission.Allow);

        Assert.Equal("train-ai=n, train-genai=n, search=y", ContentUsage.Format(decision));
        Assert.Equal("", ContentUsage.Format(Decision.Unknown));
    }

    [Fact]
    public void Disallow_wins_over_allow_when_decisions_combine()
    {
        var allow = new Decision(Permission.Allow, Permission.Allow, Permission.Unknown, Permission.Unknown, Permission.Allow);
        var disallow = new Decision(Permission.Disallow, Permission.Unknown, Permission.Unknown, Permission.Unknown, Permission.Unknown);

        Assert.Equal(new Decision(Permission.Disallow, Permission.Allow, Permission.Unknown, Permission.Unknown, Permission.Allow), ContentUsage.Combine(allow, disallow));
        Assert.True(ContentUsage.DisallowsTraining(disallow));
    }
}

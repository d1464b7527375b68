using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Core.Tests.Claims;

public sealed class UsageTests
{
    [Fact]
    public void Train_genai_inherits_from_train_ai_which_inherits_from_tdm()
    {
        var usage = new Usage(Preference.No, Preference.Unset, Preference.Unset, Preference.Unset, Preference.Yes).WithHierarchyApplied();

        Assert.Equal(new Usage(Preference.No, Preference.No, Preference.No, Preference.Unset, Preference.Yes), usage);
    }

    [Fact]
    public void A_category_the_claim_sets_is_not_overridden_by_its_parent()
    {
        var usage = new Usage(Preference.No, Preference.Yes, Preference.Unset, Preference.Unset, Preference.Unset).WithHierarchyApplied();

        Assert.Equal(Preference.No, usage.Tdm);
        Assert.Equal(Preference.Yes, usage.TrainAi);
        Assert.Equal(Preference.Yes, usage.TrainGenAi);
    }

    [Fact]
    public void Ai_use_and_search_stand_alone()
    {
        var usage = new Usage(Preference.No, Preference.Unset, Preference.Unset, Preference.Unset, Preference.Unset).WithHierarchyApplied();

        Assert.Equal(Preference.Unset, usage.AiUse);
        Assert.Equal(Preference.Unset, usage.Search);
    }
}

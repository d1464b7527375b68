using System.Net;
using System.Net.Http.Json;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Auth;

/// <summary>What operators send wrong to the admin endpoints is refused in the registry's words, naming the field.</summary>
public sealed class AdminInputTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    [Theory]
    [InlineData("/v1/admin/conflicts?limit=abc", "limit")]
    [InlineData("/v1/admin/conflicts?after=1.5", "after")]
    [InlineData("/v1/admin/conflicts?after=99999999999999999999", "after")]
    [InlineData("/v1/admin/api-keys?limit=ten", "limit")]
    public async Task A_page_parameter_that_is_not_a_number_is_refused_as_not_a_whole_number(string path, string parameter)
    {
        using var admin = registry.App.CreateAdminClient();

        var problem = await AssertProblemAsync(await admin.GetAsync(path), HttpStatusCode.BadRequest, "invalid-query");

        var message = Assert.Single(problem.GetProperty("errors").GetProperty(parameter).EnumerateArray()).GetString();
        Assert.Equal($"{parameter} is a whole number (within range).", message);
    }

    [Fact]
    public async Task A_write_budget_missing_a_number_is_refused_naming_it_in_the_registrys_words()
    {
        using var admin = registry.App.CreateAdminClient();
        var created = await (await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "budget input" })).JsonAsync();

        var set = await admin.PutAsJsonAsync($"/v1/admin/api-keys/{created.GetProperty("id").GetString()}/write-budget", new { });
        var create = await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "budget input", write_budget = new { claims_per_hour = 5 } });

        var errors = (await AssertProblemAsync(set, HttpStatusCode.BadRequest, "validation-failed")).GetProperty("errors");
        Assert.Equal("claims_per_hour is a whole number from 1 to 1,000,000,000.", errors.GetProperty("claims_per_hour")[0].GetString());
        Assert.StartsWith("subjects_per_hour is a whole number from 10,000", errors.GetProperty("subjects_per_hour")[0].GetString(), StringComparison.Ordinal);
        errors = (await AssertProblemAsync(create, HttpStatusCode.BadRequest, "validation-failed")).GetProperty("errors");
        Assert.StartsWith("subjects_per_hour is a whole number", errors.GetProperty("write_budget.subjects_per_hour")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_name_over_200_characters_is_refused_saying_the_limit()
    {
        using var admin = registry.App.CreateAdminClient();

        var response = await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = new string('n', 201) });

        var errors = (await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation-failed")).GetProperty("errors");
        Assert.Equal("name is at most 200 characters.", errors.GetProperty("name")[0].GetString());
    }
}

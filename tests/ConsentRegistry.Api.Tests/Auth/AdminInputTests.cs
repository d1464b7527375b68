using System.Net;
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
}

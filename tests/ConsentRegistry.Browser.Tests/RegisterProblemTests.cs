using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ConsentRegistry.Browser.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace ConsentRegistry.Browser.Tests;

/// <summary>What the register page says when the registry refuses a file or a claim: each reason once, in the artist's terms.</summary>
[Collection(BrowserCollection.Name)]
public sealed class RegisterProblemTests(BrowserFixture registry) : IClassFixture<BrowserFixture>, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("registry-register-").FullName;

    [Fact]
    public async Task Registering_again_after_an_answer_lost_on_the_way_sends_the_same_claim_not_a_second_one()
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        var party = await artist.PartyIdAsync();
        var sent = new List<string>();
        var lost = 0;
        await artist.Page.RouteAsync("**/v1/claims", async route =>
        {
            sent.Add(route.Request.PostData ?? "");
            if (Interlocked.Increment(ref lost) == 1)
            {
                await route.FetchAsync(); // the registry stores it...
                await route.AbortAsync(); // ...and the connection fails before the answer arrives
                return;
            }

            await route.FallbackAsync();
        });
        await artist.GoToAsync("/register");
        await artist.Page.Locator("#urls").FillAsync("https://lost-answer.example/heron.jpg");

        await artist.Page.Locator("#submit-claim").ClickAsync();
        await Expect(artist.Page.GetByRole(AriaRole.Alert)).ToContainTextAsync("could not be reached");
        await artist.Page.Locator("#submit-claim").ClickAsync();
        var receipt = await artist.ReadReceiptAsync();

        Assert.Equal(2, sent.Count);
        Assert.Equal(sent[0], sent[1]); // the very JWS again
        await Expect(artist.Page.Locator("#register-progress")).ToContainTextAsync("This exact claim was already registered.");
        var claims = await registry.Api.GetFromJsonAsync<JsonElement>($"/v1/parties/{party}/claims");
        Assert.Equal(receipt.Id, Assert.Single(claims.GetProperty("claims").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task An_empty_image_file_is_refused_and_the_reason_is_said_once()
    {
        var empty = Path.Combine(_folder, "blank.png");
        await File.WriteAllBytesAsync(empty, []);
        var detail = await ImageProblemDetailAsync();
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        await artist.GoToAsync("/register");

        await artist.Page.Locator("#files").SetInputFilesAsync(empty);
        await artist.Page.Locator("#submit-claim").ClickAsync();

        var alert = artist.Page.GetByRole(AriaRole.Alert);
        await Expect(alert).ToContainTextAsync("The image blank.png could not be hashed.");
        var text = await alert.InnerTextAsync();
        Assert.Equal(1, Regex.Count(text, Regex.Escape(detail)));
    }

    [Fact]
    public async Task A_refused_image_vector_is_named_by_its_file_not_by_the_vector()
    {
        await using var artist = await registry.NewProfileAsync();
        await artist.CreateKeyAsync();
        // The registry's own hashes of the file, with a vector it will not take, as a registry whose
        // model changed between hashing and signing might hand out.
        var hashes = await ImageHashesAsync(Pictures.Shapes);
        var embedding = hashes["embeddings"]![0]!;
        var vector = ((string)embedding["value"]!)[..^8];
        embedding["value"] = vector;
        await artist.Page.RouteAsync("**/v1/images", route => route.FulfillAsync(new()
        {
            Status = 200,
            ContentType = "application/json",
            Body = hashes.ToJsonString(),
        }));
        await artist.GoToAsync("/register");

        await artist.Page.Locator("#files").SetInputFilesAsync(Pictures.Shapes);
        await artist.Page.Locator("#submit-claim").ClickAsync();

        var alert = artist.Page.GetByRole(AriaRole.Alert);
        await Expect(alert).ToContainTextAsync($"Image file “{Path.GetFileName(Pictures.Shapes)}” (subjects[");
        Assert.True(vector.Length > 100, $"the vector is {vector.Length} characters");
        await Expect(alert).Not.ToContainTextAsync(vector[..40]);
        await Expect(artist.Page.Locator("#receipt")).ToBeHiddenAsync();
    }

    /// <summary>The detail the API itself gives for an empty file.</summary>
    private async Task<string> ImageProblemDetailAsync()
    {
        using var form = new MultipartFormDataContent { { new ByteArrayContent([]), "file", "blank.png" } };
        var response = await registry.Api.PostAsync("/v1/images", form);
        Assert.False(response.IsSuccessStatusCode, $"an empty file answered {(int)response.StatusCode}");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        return problem.GetProperty("detail").GetString()!;
    }

    /// <summary>What <c>POST /v1/images</c> answers for <paramref name="file"/>.</summary>
    private async Task<JsonNode> ImageHashesAsync(string file)
    {
        using var form = new MultipartFormDataContent { { new ByteArrayContent(await File.ReadAllBytesAsync(file)), "file", Path.GetFileName(file) } };
        var response = await registry.Api.PostAsync("/v1/images", form);
        Assert.True(response.IsSuccessStatusCode, $"POST /v1/images answered {(int)response.StatusCode}");
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}

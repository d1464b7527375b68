using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Lookup;

/// <summary>
/// Random claims, revocations, reviews and lookups over a small universe of hosts, paths, file
/// hashes, PDQ hashes and parties, through the real API and store, compared with a plain reference implementation of
/// DESIGN.md 2 written here from the rules alone.
/// </summary>
public sealed class ResolutionModelTests
{
    private static readonly string[] Categories = ["tdm", "train-ai", "train-genai", "ai-use", "search"];
    private static readonly string[] Hosts = ["a.example", "sub.a.example", "deep.sub.a.example", "b.example", "x.b.example"];
    private static readonly string[] Paths = ["/", "/img/1.jpg", "/img/2.jpg", "/art/", "/art/x.png", "/art/x.png?s=1", "/artist"];
    private static readonly string[] Prefixes = ["/", "/img/", "/art/", "/art/x", "/ar"];
    private static readonly string[] Hashes = Enumerable.Range(0, 4).Select(i => new string((char)('a' + i), 64)).ToArray();

    /// <summary>PDQ hashes around three centres, at distances on both sides of the radii looked up.</summary>
    private static readonly string[] PdqHashes = PdqUniverse();

    [Fact]
    public async Task Ten_thousand_random_operations_match_a_reference_implementation_of_the_resolution_rules()
    {
        const int operations = 10_000;
        var seed = Environment.GetEnvironmentVariable("MODEL_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : 20261126;
        var random = new Random(seed);
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateAdminClient(); // admin: the same client can also review claims
        var parties = Enumerable.Range(0, 4).Select(_ => new TestSigner()).ToArray();
        var model = new List<ModelClaim>();
        var now = TestSigner.Now;
        var checkedItems = 0;
        var itemsWithMore = 0;

        try
        {
            for (var op = 0; op < operations;)
            {
                var roll = random.Next(100);
                if (roll < 35 || model.Count == 0)
                {
                    var claim = RandomClaim(random, parties, now);
                    var response = await client.PostAsync("/v1/claims", Jose(claim.Jws));
                    Assert.Equal(HttpStatusCode.Created, response.StatusCode);
                    model.Add(claim with { Seq = (await response.JsonAsync()).GetProperty("seq").GetInt64() });
                    op++;
                }
                else if (roll < 45)
                {
                    var target = model[random.Next(model.Count)];
                    var iat = TestSigner.Now;
                    var response = await client.PostAsync($"/v1/claims/{target.Id}/revocation", Jose(parties[target.Party].Revocation(target.Id, iat)));
                    // The same signed content (same signer, claim and iat) is the same revocation, as for claims: 200.
                    var expected = target.RevokedIat is not { } earlier ? HttpStatusCode.Created
                        : earlier == iat ? HttpStatusCode.OK : HttpStatusCode.Conflict;
                    Assert.Equal(expected, response.StatusCode);
                    target.RevokedIat ??= iat;
                    op++;
                }
                else if (roll < 50)
                {
                    var target = model[random.Next(model.Count)];
                    Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/v1/admin/claims/{target.Id}/review", null)).StatusCode);
                    target.Reviewed = true;
                    op++;
                }
                else
                {
                    var items = Enumerable.Range(0, 25).Select(_ => RandomItem(random)).ToList();
                    var response = await client.PostAsJsonAsync("/v1/lookup", new { items = items.Select(i => i.Body).ToArray() });
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    var results = (await response.JsonAsync()).GetProperty("results");
                    for (var i = 0; i < items.Count; i++)
                    {
                        var (expected, expectedMatches, expectedMore) = Reference(model, items[i]);
                        var actual = Categories.Select(c => results[i].GetProperty("decision").GetProperty(c).GetString()!).ToArray();
                        Assert.True(expected.SequenceEqual(actual),
                            $"seed {seed}, op {op}, item {items[i].Body.ToJsonString()}: expected [{string.Join(",", expected)}], got [{string.Join(",", actual)}]");
                        var actualMatches = results[i].GetProperty("matches").EnumerateArray()
                            .Select(m => $"{m.GetProperty("claim").GetString()}/{m.GetProperty("by").GetString()}").ToArray();
                        var actualMore = results[i].TryGetProperty("more", out var more) ? more.GetInt32() : 0;
                        Assert.True(expectedMatches.SequenceEqual(actualMatches) && expectedMore == actualMore,
                            $"seed {seed}, op {op}, item {items[i].Body.ToJsonString()}: expected matches [{string.Join(",", expectedMatches)}] + {expectedMore} more, "
                            + $"got [{string.Join(",", actualMatches)}] + {actualMore} more");
                        itemsWithMore += expectedMore > 0 ? 1 : 0;
                        checkedItems++;
                    }

                    op += items.Count;
                }
            }
        }
        finally
        {
            foreach (var party in parties)
            {
                party.Dispose();
            }
        }

        Assert.True(checkedItems > 4000, $"only {checkedItems} lookups were checked");
        Assert.True(itemsWithMore > 100, $"only {itemsWithMore} items had more than 16 deciding matches"); // the cap is exercised
    }

    private static ModelClaim RandomClaim(Random random, TestSigner[] parties, long now)
    {
        var subjects = new List<ModelSubject>();
        for (var n = random.Next(1, 4); n > 0; n--)
        {
            var scheme = random.Next(5) == 0 ? "http" : "https";
            subjects.Add(random.Next(5) switch
            {
                0 => new ModelSubject("url", $"{scheme}://{Pick(random, Hosts)}{Pick(random, Paths)}", false),
                1 => new ModelSubject("url-prefix", $"{scheme}://{Pick(random, Hosts)}{Pick(random, Prefixes)}", false),
                2 => new ModelSubject("host", Pick(random, Hosts), random.Next(2) == 0),
                3 => new ModelSubject("sha256", Pick(random, Hashes), false),
                _ => new ModelSubject("pdq", Pick(random, PdqHashes), false),
            });
        }

        var usage = new JsonObject();
        foreach (var category in Categories.OrderBy(_ => random.Next()).Take(random.Next(1, 4)))
        {
            usage[category] = random.Next(3) == 0 ? "y" : "n";
        }

        var party = random.Next(parties.Length);
        var iat = now - random.Next(0, 2000); // out of order on purpose: the latest iat wins, not the latest seq
        var payload = TestSigner.Claim(
            subjects.Select(s => s.Kind == "host"
                ? new JsonObject { ["kind"] = s.Kind, ["value"] = s.Value, ["include_subdomains"] = s.IncludeSubdomains }
                : TestSigner.Subject(s.Kind, s.Value)),
            usage,
            iat);
        var jws = parties[party].Sign(payload);
        return new ModelClaim(TestSigner.IdOf(jws), jws, party, iat, subjects, WithHierarchy(usage));
    }

    private static ModelItem RandomItem(Random random)
    {
        if (random.Next(6) == 0)
        {
            var hash = Pick(random, Hashes);
            return new ModelItem(new JsonObject { ["sha256"] = hash }, null, hash);
        }

        if (random.Next(5) == 0)
        {
            var pdq = Pick(random, PdqHashes);
            var body = new JsonObject { ["pdq"] = pdq };
            var maxDistance = random.Next(3) == 0 ? new[] { 0, 7, 15, 16, 40, 63 }[random.Next(6)] : 31;
            if (maxDistance != 31 || random.Next(2) == 0)
            {
                body["max_distance"] = maxDistance;
            }

            return new ModelItem(body, null, null, pdq, maxDistance);
        }

        var url = $"{(random.Next(5) == 0 ? "http" : "https")}://{Pick(random, Hosts)}{Pick(random, Paths)}";
        return new ModelItem(new JsonObject { ["url"] = url }, url, null);
    }

    private static string[] PdqUniverse()
    {
        var random = new Random(31);
        var hashes = new List<string>();
        for (var centre = 0; centre < 3; centre++)
        {
            var bytes = new byte[32];
            random.NextBytes(bytes);
            foreach (var distance in new[] { 0, 5, 16, 24, 31, 32, 40 })
            {
                var near = (byte[])bytes.Clone();
                foreach (var bit in Enumerable.Range(0, 256).OrderBy(_ => random.Next()).Take(distance))
                {
                    near[bit >> 3] ^= (byte)(1 << (bit & 7));
                }

                hashes.Add(Convert.ToHexStringLower(near));
            }
        }

        return hashes.ToArray();
    }

    private static int HammingDistance(string a, string b) =>
        Convert.FromHexString(a).Zip(Convert.FromHexString(b), (x, y) => System.Numerics.BitOperations.PopCount((uint)(x ^ y))).Sum();

    private static string Pick(Random random, string[] values) => values[random.Next(values.Length)];

    private static string?[] WithHierarchy(JsonObject usage)
    {
        var values = Categories.Select(c => usage[c]?.GetValue<string>()).ToArray();
        values[1] ??= values[0]; // train-ai from tdm
        values[2] ??= values[1]; // train-genai from train-ai
        return values;
    }

    /// <summary>
    /// DESIGN.md 2, as plainly as it reads: the decision, the matches listed (at most 16, strongest
    /// trust then newest first, one per claim and kind) and how many deciding matches were left out.
    /// </summary>
    private static (string[] Decision, string[] Matches, int More) Reference(List<ModelClaim> claims, ModelItem item)
    {
        bool Matches(ModelSubject s) => s.Kind switch
        {
            "url" => item.Url == s.Value,
            "url-prefix" => item.Url is not null && item.Url.StartsWith(s.Value, StringComparison.Ordinal),
            "host" => item.Url is not null && (HostOf(item.Url) == s.Value || (s.IncludeSubdomains && HostOf(item.Url).EndsWith("." + s.Value, StringComparison.Ordinal))),
            "sha256" => item.Sha256 == s.Value,
            _ => item.Pdq is not null && HammingDistance(item.Pdq, s.Value) <= item.MaxDistance,
        };

        var deciding = claims
            .Where(c => !c.Revoked)
            .SelectMany(c => c.Subjects.Where(Matches).Select(s => (Claim: c, Subject: (s.Kind, s.Value))))
            .GroupBy(x => (x.Claim.Party, x.Subject))
            .Select(g => g.OrderByDescending(x => x.Claim.Iat).ThenByDescending(x => x.Claim.Seq).First())
            .ToList();
        var applicable = deciding.Select(d => d.Claim).ToList();

        var decision = Categories.Select((_, c) =>
            applicable.Any(a => a.Usage[c] == "n") ? "disallow"
            : applicable.Any(a => a.Usage[c] == "y" && a.Reviewed) ? "allow" // grants count from trust 'domain'; here only reviewed claims reach it
            : "unknown").ToArray();

        string[] kindOrder = ["url", "url-prefix", "host", "sha256", "pdq"];
        var listed = deciding
            .Select(d => (d.Claim, d.Subject.Kind))
            .Distinct()
            .OrderByDescending(m => m.Claim.Reviewed)
            .ThenByDescending(m => m.Claim.Iat)
            .ThenByDescending(m => m.Claim.Seq)
            .ThenBy(m => Array.IndexOf(kindOrder, m.Kind))
            .Take(16)
            .ToList();
        var more = deciding.Count(d => !listed.Contains((d.Claim, d.Subject.Kind)));
        return (decision, listed.Select(m => $"{m.Claim.Id}/{m.Kind}").ToArray(), more);
    }

    private static string HostOf(string url) => new Uri(url).Host;

    private sealed record ModelSubject(string Kind, string Value, bool IncludeSubdomains);

    private sealed record ModelItem(JsonObject Body, string? Url, string? Sha256, string? Pdq = null, int MaxDistance = 0);

    private sealed record ModelClaim(string Id, string Jws, int Party, long Iat, List<ModelSubject> Subjects, string?[] Usage)
    {
        public long Seq { get; init; }

        public long? RevokedIat { get; set; }

        public bool Revoked => RevokedIat is not null;

        public bool Reviewed { get; set; }
    }
}

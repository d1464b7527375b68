using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace ConsentRegistry.LoadGen;

/// <summary>
/// The abuse benchmark's phases (benchmarks/abuse.sh): an attack on loopback, each alongside two
/// well-behaved clients whose latency and 429s are the measure (artists' 20-URL claims, each artist
/// one every 3 s; a dataset builder's 10,000-URL batches at 150,000 URLs/s). Attackers, artists and
/// builder each connect from their own loopback address, as separate clients would.
/// </summary>
internal static class AbuseLoad
{
    public static async Task<int> RunAsync(
        string phase, Uri target, int seconds, int serverPid, string adminKey, int policySubjects, int trials, int attackersNice, int artists, int pdqHashes = 1_000_000)
    {
        if (phase == "flood-attackers")
        {
            return await FloodAttackersAsync(target, seconds) ? 0 : 1;
        }

        var server = new Server(target, serverPid);
        using var background = new WellBehaved(target, artists);
        var ok = phase switch
        {
            "baseline" => await BaselineAsync(background, seconds),
            "flood" => await FloodAsync(target, background, server, seconds, attackersNice),
            "burst" => await BurstAsync(target, trials),
            "amplify" => await AmplifyAsync(target, background),
            "policy" => await PolicyAsync(target, background, server, adminKey, policySubjects, seconds),
            "pdq" => await PdqFloodAsync(target, background, server, adminKey, pdqHashes, seconds),
            _ => throw new ArgumentException($"unknown phase {phase}"),
        };
        return ok ? 0 : 1;
    }

    private static async Task<bool> BaselineAsync(WellBehaved background, int seconds)
    {
        await background.RunAsync(Task.CompletedTask); // warm-up (JIT, connections), not counted
        var report = await background.RunAsync(Task.Delay(TimeSpan.FromSeconds(seconds)));
        report.Print("unloaded");
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "registry-abuse-baseline.json"), JsonSerializer.Serialize(report));
        return report.Rejected == 0;
    }

    private static async Task<bool> FloodAsync(Uri target, WellBehaved background, Server server, int seconds, int attackersNice)
    {
        var rssBefore = server.RssMiB();
        Process? attackerProcess = null;
        Func<Task<(Dictionary<int, int> Statuses, long SubjectsAccepted)>> attack;
        double attackersCpu = 0;
        if (attackersNice > 0)
        {
            // The attackers in a process of their own, nicer than the server and the well-behaved
            // clients: as if their sending ran on other machines, which two shared cores cannot show.
            attackerProcess = Process.Start(new ProcessStartInfo("nice")
            {
                ArgumentList = { "-n", attackersNice.ToString(CultureInfo.InvariantCulture), Environment.ProcessPath!, typeof(AbuseLoad).Assembly.Location,
                    "abuse", "--phase", "flood-attackers", "--target", target.ToString(), "--seconds", seconds.ToString(CultureInfo.InvariantCulture) },
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
            })!;
            var signed = await attackerProcess.StandardOutput.ReadLineAsync();
            if (signed != "signed")
            {
                throw new InvalidOperationException($"the attackers' process said {signed ?? "nothing"}");
            }

            attack = async () =>
            {
                await attackerProcess.StandardInput.WriteLineAsync("go");
                await attackerProcess.StandardInput.FlushAsync();
                var result = JsonSerializer.Deserialize<AttackResult>((await attackerProcess.StandardOutput.ReadLineAsync())!)!;
                await attackerProcess.WaitForExitAsync();
                attackersCpu = result.CpuSeconds;
                return (result.Statuses, result.SubjectsAccepted);
            };
        }
        else
        {
            var claims = SignFloodClaims();
            attack = () => AttackAsync(target, claims, seconds);
        }

        await background.WarmUpAsync();
        var cpuBefore = server.CpuSeconds();
        var clientCpuBefore = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        var attacking = attack();
        var report = await background.RunAsync(attacking);
        var (statuses, subjectsAccepted) = await attacking;
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - clientCpuBefore;
        Console.WriteLine($"flood, {seconds} s from 2 addresses × 4 connections{(attackerProcess is null ? "" : $" (a process of their own at nice {attackersNice})")}: "
            + $"{string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Value} × {s.Key}"))}; "
            + $"{subjectsAccepted:N0} subjects accepted; server RSS {rssBefore} → {server.RssMiB()} MiB; CPU: server {server.CpuSeconds() - cpuBefore:F1} s, "
            + (attackerProcess is null
                ? $"load generator (attackers and well-behaved clients) {clientCpu:F1} s"
                : $"well-behaved clients {clientCpu:F1} s, attackers {attackersCpu:F1} s (signing included)")
            + $" of the machine's {2 * seconds} s");
        attackerProcess?.Dispose();
        report.Print("during the claim flood");
        return Verdicts(report, statuses.GetValueOrDefault(429) + statuses.GetValueOrDefault(0) > 0 && subjectsAccepted <= 60_000,
            "the flood was throttled to the address budget (30,000 subjects an hour from each of 2 addresses)");
    }

    /// <summary>The flood's attackers alone (<c>--phase flood-attackers</c>): signs, says "signed", attacks on "go", prints the statuses as JSON.</summary>
    private static async Task<bool> FloodAttackersAsync(Uri target, int seconds)
    {
        var claims = SignFloodClaims();
        Console.WriteLine("signed");
        if (Console.ReadLine() != "go")
        {
            return false;
        }

        var (statuses, subjectsAccepted) = await AttackAsync(target, claims, seconds);
        Console.WriteLine(JsonSerializer.Serialize(new AttackResult(statuses, subjectsAccepted, Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds)));
        return true;
    }

    private sealed record AttackResult(Dictionary<int, int> Statuses, long SubjectsAccepted, double CpuSeconds);

    private static readonly string[] FloodAddresses = ["127.0.0.10", "127.0.0.11"];

    /// <summary>
    /// Signed before the clock starts, so that the attackers' own signing (this machine has two
    /// cores) is not what the well-behaved clients measure: mostly throwaway keys, some one key again.
    /// </summary>
    private static Dictionary<string, (string Jws, int Subjects)[]> SignFloodClaims()
    {
        using var reused = new ClaimSigner();
        return FloodAddresses.ToDictionary(a => a, a => Enumerable.Range(0, 24).Select(n =>
        {
            using var fresh = new ClaimSigner();
            var urls = Enumerable.Range(0, 10_000).Select(i => $"https://flood{a}.example/{n}/{i}.jpg").ToList();
            return (Jws: (n % 4 == 0 ? reused : fresh).SignOptOut(urls, Now()), Subjects: urls.Count);
        }).ToArray());
    }

    /// <summary>Four connections from each address, each sending its next claim as soon as it is answered, for <paramref name="seconds"/>.</summary>
    private static async Task<(Dictionary<int, int> Statuses, long SubjectsAccepted)> AttackAsync(
        Uri target, Dictionary<string, (string Jws, int Subjects)[]> claims, int seconds)
    {
        var statuses = new Dictionary<int, int>();
        long subjectsAccepted = 0;
        var attackers = FloodAddresses.SelectMany(a => Enumerable.Range(0, 4).Select(connection => (Address: a, Connection: connection))).Select(attacker => Task.Run(async () =>
        {
            var a = attacker.Address;
            using var client = Http(target, IPAddress.Parse(a));
            var deadline = Stopwatch.StartNew();
            for (var n = attacker.Connection * 6; deadline.Elapsed.TotalSeconds < seconds; n++)
            {
                var (jws, count) = claims[a][n % claims[a].Length];
                // A writer that keeps sending past its Retry-After is cut off without its body read:
                // counted as status 0, "closed while sending".
                var status = 0;
                try
                {
                    using var response = await client.PostAsync("/v1/claims", new StringContent(jws, Encoding.ASCII, "application/jose"));
                    status = (int)response.StatusCode;
                }
                catch (HttpRequestException)
                {
                }

                lock (statuses)
                {
                    statuses[status] = statuses.GetValueOrDefault(status) + 1;
                    subjectsAccepted += status == (int)HttpStatusCode.Created ? count : 0;
                }
            }
        })).ToArray();
        await Task.WhenAll(attackers);
        return (statuses, subjectsAccepted);
    }

    /// <summary>
    /// A claim flood's opening, many times over: eight 10,000-subject claims sent at once from two
    /// fresh addresses (six within their budgets), the artist's 20-URL claim sent at the same moment;
    /// then, once the burst is answered and has settled, the artist's claim alone. The flood phase
    /// meets its opening burst once per run, so its p99 rests on one sample; this phase gives the
    /// distribution. Not a verdict: a measure for finding where the artist's claim waits.
    /// </summary>
    private static async Task<bool> BurstAsync(Uri target, int trials)
    {
        using var artist = Http(target, IPAddress.Parse("127.0.0.2"));
        var during = new List<double>();
        var alone = new List<double>();
        var bursts = new List<double>();
        var statuses = new Dictionary<int, int>();
        async Task<double> ArtistAsync(string jws)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await artist.PostAsync("/v1/claims", new StringContent(jws, Encoding.ASCII, "application/jose"));
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (response.StatusCode != HttpStatusCode.Created)
            {
                throw new InvalidOperationException($"the artist's claim got {(int)response.StatusCode}");
            }

            return elapsed;
        }

        string ArtistClaim(int trial, string when)
        {
            using var signer = new ClaimSigner();
            return signer.SignOptOut(Enumerable.Range(0, 20).Select(i => $"https://portfolio-burst{trial}-{when}.example/works/{i}.jpg").ToList(), Now());
        }

        await ArtistAsync(ArtistClaim(0, "warm-up"));
        for (var trial = 1; trial <= trials; trial++)
        {
            // Two addresses no earlier trial used, four connections each, as in the flood.
            var addresses = new[] { $"127.0.2.{2 * trial}", $"127.0.2.{(2 * trial) + 1}" };
            var large = addresses.SelectMany(a => Enumerable.Range(0, 4).Select(n =>
            {
                using var signer = new ClaimSigner();
                return (Address: a, Jws: signer.SignOptOut(Enumerable.Range(0, 10_000).Select(i => $"https://burst{trial}-{a}.example/{n}/{i}.jpg").ToList(), Now()));
            })).ToArray();
            var artistDuring = ArtistClaim(trial, "during");
            var artistAlone = ArtistClaim(trial, "alone");
            var clients = large.Select(l => Http(target, IPAddress.Parse(l.Address))).ToArray();
            try
            {
                var started = Stopwatch.GetTimestamp();
                var sends = large.Select(async (l, i) =>
                {
                    var status = 0;
                    try
                    {
                        using var response = await clients[i].PostAsync("/v1/claims", new StringContent(l.Jws, Encoding.ASCII, "application/jose"));
                        status = (int)response.StatusCode;
                    }
                    catch (HttpRequestException)
                    {
                    }

                    lock (statuses)
                    {
                        statuses[status] = statuses.GetValueOrDefault(status) + 1;
                    }
                }).ToArray();
                during.Add(await ArtistAsync(artistDuring));
                await Task.WhenAll(sends);
                bursts.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            finally
            {
                foreach (var client in clients)
                {
                    client.Dispose();
                }
            }

            await Task.Delay(TimeSpan.FromSeconds(2));
            alone.Add(await ArtistAsync(artistAlone));
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        during.Sort();
        alone.Sort();
        bursts.Sort();
        string Summary(List<double> sorted) =>
            $"p50 {Percentile(sorted, 0.5):F0} ms, p90 {Percentile(sorted, 0.9):F0} ms, max {sorted[^1]:F0} ms";
        Console.WriteLine($"burst, {trials} trials of 8 × 10,000-subject claims at once from 2 fresh addresses: {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Value} × {s.Key}"))}; "
            + $"each burst answered in {Summary(bursts)}");
        Console.WriteLine($"artist 20-URL claim sent with each burst: {Summary(during)} ({string.Join(' ', during.Select(d => d.ToString("F0", CultureInfo.InvariantCulture)))})");
        Console.WriteLine($"artist 20-URL claim alone, 2 s after each burst: {Summary(alone)}");
        return true;
    }

    private static async Task<bool> AmplifyAsync(Uri target, WellBehaved background)
    {
        const string host = "crowded.example";
        using var client = Http(target, IPAddress.Parse("127.0.0.20"));
        var spawning = string.Join('\n', Enumerable.Range(0, 10_000).Select(i => $"https://{host}/{i}/art.png"));
        var batch = JsonSerializer.SerializeToUtf8Bytes(new { items = Enumerable.Range(0, 1_000).Select(i => new { url = $"https://{host}/{i}.jpg" }) });
        await TimeBatchesAsync(client, spawning, batch); // warm-up
        var before = await TimeBatchesAsync(client, spawning, batch);

        // One-subject host claims from 2,000 throwaway keys, signed before the clock starts, sent
        // from 20 addresses (100 each, within the address budget of 120 an hour).
        var planted = Enumerable.Range(0, 2_000).Select(_ =>
        {
            using var signer = new ClaimSigner();
            return signer.SignOptOut([("host", host, false)], Now());
        }).ToArray();

        // Each address sends its share in turn at 4 claims a second, under the per-address write rate (5/s).
        async Task PlantAsync(int from, int to)
        {
            var statuses = new Dictionary<int, int>();
            await Parallel.ForEachAsync(Enumerable.Range(from, to - from).GroupBy(i => i / 100), new ParallelOptions { MaxDegreeOfParallelism = 20 }, async (share, _) =>
            {
                using var planter = Http(target, IPAddress.Parse($"127.0.1.{share.Key + 1}"));
                foreach (var i in share)
                {
                    var started = Stopwatch.GetTimestamp();
                    using var response = await planter.PostAsync("/v1/claims", new StringContent(planted[i], Encoding.ASCII, "application/jose"));
                    lock (statuses)
                    {
                        statuses[(int)response.StatusCode] = statuses.GetValueOrDefault((int)response.StatusCode) + 1;
                    }

                    var wait = TimeSpan.FromMilliseconds(250) - Stopwatch.GetElapsedTime(started);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait);
                    }
                }
            });
            Console.WriteLine($"planted claims {from:N0} to {to:N0} on {host}: {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Value} × {s.Key}"))}");
        }

        await PlantAsync(0, 16);
        var atCap = await TimeBatchesAsync(client, spawning, batch);
        await background.WarmUpAsync();
        var report = await background.RunAsync(PlantAsync(16, 2_000));
        var after = await TimeBatchesAsync(client, spawning, batch);

        Console.WriteLine($"10,000-URL /api/v2/query/urls on {host}: median {before.Spawning:F1} ms with no claim, {atCap.Spawning:F1} ms with 16, {after.Spawning:F1} ms with 2,000 ({after.Spawning / before.Spawning:F2}× no claim)");
        Console.WriteLine($"1,000-URL /v1/lookup on {host}: median {before.Lookup:F1} ms ({before.LookupBytes:N0} bytes) with no claim, {atCap.Lookup:F1} ms ({atCap.LookupBytes:N0} bytes) with 16 "
            + $"(each item lists 16 matches), {after.Lookup:F1} ms ({after.LookupBytes:N0} bytes) with 2,000 ({after.Lookup / atCap.Lookup:F2}× 16 claims)");
        report.Print("while planting 2,000 claims on one host");
        return Verdicts(report, after.Spawning <= 2 * before.Spawning && after.Lookup <= 2 * atCap.Lookup,
            "10,000-URL batches within 2× of no claim; a lookup listing 16 matches costs the same with 2,000 claims as with 16");
    }

    private static async Task<(double Spawning, double Lookup, long LookupBytes)> TimeBatchesAsync(HttpClient client, string spawning, byte[] batch)
    {
        var spawningTimes = new List<double>();
        var lookupTimes = new List<double>();
        long bytes = 0;
        for (var run = 0; run < 21; run++)
        {
            var started = Stopwatch.GetTimestamp();
            using (var response = await client.PostAsync("/api/v2/query/urls", new StringContent(spawning, Encoding.UTF8, "text/plain")))
            {
                await response.Content.ReadAsByteArrayAsync();
                response.EnsureSuccessStatusCode();
            }

            spawningTimes.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            started = Stopwatch.GetTimestamp();
            using (var response = await client.PostAsync("/v1/lookup", new ByteArrayContent(batch) { Headers = { ContentType = new("application/json") } }))
            {
                bytes = (await response.Content.ReadAsByteArrayAsync()).LongLength;
                response.EnsureSuccessStatusCode();
            }

            lookupTimes.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        return (Median(spawningTimes), Median(lookupTimes), bytes);
    }

    private static async Task<bool> PolicyAsync(Uri target, WellBehaved background, Server server, string adminKey, int subjects, int seconds)
    {
        const string host = "bighost.example";
        using var platform = await PlatformAsync(target, adminKey, IPAddress.Parse("127.0.0.30"));
        using var signer = new ClaimSigner();
        var planted = Stopwatch.StartNew();
        await PlantAsync(platform, signer, subjects, c =>
            Enumerable.Range(c * 10_000, Math.Min(10_000, subjects - (c * 10_000))).Select(i => ("url", $"https://{host}/p{i / 1_000}/{i}.jpg", false)).ToList());
        Console.WriteLine($"planted {subjects:N0} subjects on {host} in {planted.Elapsed.TotalSeconds:F0} s; server RSS {server.RssMiB()} MiB");

        using var crawler = Http(target, IPAddress.Parse("127.0.0.40"));
        // Let the index take in what was planted, so the peak below is the render's, not the intake's.
        while (await server.MetricAsync("registry_index_lag", "") > 0)
        {
            await Task.Delay(200);
        }

        await Task.Delay(TimeSpan.FromSeconds(5));
        server.ResetPeak();
        var rssBeforeRender = server.RssMiB();
        var first = Stopwatch.StartNew();
        int firstStatus;
        var tries = 0;
        do
        {
            using var response = await crawler.GetAsync($"/v1/hosts/{host}/robots.txt");
            firstStatus = (int)response.StatusCode;
            tries++;
            if (firstStatus != 200)
            {
                await Task.Delay(200);
            }
        }
        while (firstStatus != 200 && first.Elapsed.TotalSeconds < 300);

        var renderMiB = server.PeakMiB() - rssBeforeRender;
        Console.WriteLine($"first robots.txt: 200 after {first.Elapsed.TotalSeconds:F1} s ({tries} requests; the earlier ones 503 with Retry-After while it rendered); "
            + $"render peak RSS {renderMiB} MiB above the {rssBeforeRender} MiB before it");

        var served = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await crawler.GetAsync($"/v1/hosts/{host}/robots.txt");
            await response.Content.ReadAsByteArrayAsync();
            served.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        await background.WarmUpAsync();
        var rendersBefore = await server.MetricAsync("registry_policy_renders_total", "source=\"store\"");
        var cpuBefore = server.CpuSeconds();
        var loop = Task.Run(async () =>
        {
            var deadline = Stopwatch.StartNew();
            for (var n = 0; deadline.Elapsed.TotalSeconds < seconds; n++)
            {
                using var claim = await platform.PostAsync("/v1/claims",
                    new StringContent(signer.SignOptOut([$"https://{host}/loop/{n}.jpg"], Now()), Encoding.ASCII, "application/jose"));
                var started = Stopwatch.GetTimestamp();
                using var robots = await crawler.GetAsync($"/v1/hosts/{host}/robots.txt");
                await robots.Content.ReadAsByteArrayAsync();
                lock (served)
                {
                    served.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }
        });
        var report = await background.RunAsync(loop);
        var renders = await server.MetricAsync("registry_policy_renders_total", "source=\"store\"") - rendersBefore;
        var cpu = server.CpuSeconds() - cpuBefore;
        served.Sort();
        Console.WriteLine($"robots.txt at {subjects:N0} subjects: p50 {Percentile(served, 0.5):F1} ms, max {served[^1]:F1} ms over {served.Count} requests; "
            + $"(tiny claim, GET robots.txt) loop for {seconds} s: {renders:N0} renders ({renders / seconds:F2}/s), server CPU {cpu:F1} s");
        report.Print("during the policy re-render loop");
        // The goal says 100 MB extra memory: 95 MiB.
        return Verdicts(report, served[^1] <= 200 && renders / seconds <= 3 && renderMiB <= 95,
            $"robots.txt ≤ 200 ms, at most a few renders a second, render peak {renderMiB} MiB ≤ 100 MB");
    }

    private static readonly string[] PdqFloodAddresses = ["127.0.0.50", "127.0.0.51"];

    /// <summary>
    /// Lookups that cost: <paramref name="hashes"/> PDQ hashes claimed (through a platform key), then
    /// for <paramref name="seconds"/> two anonymous addresses × 4 connections send 10,000-item batches
    /// of random PDQ hashes (each a radius search that finds nothing, so every candidate is checked),
    /// resending at once whatever the answer, cut off at the end. Bounded when the PDQ searches the
    /// server made (its registry_pdq_search_duration_seconds_count) stay within the two addresses'
    /// default pace, and the well-behaved clients keep their p99.
    /// </summary>
    private static async Task<bool> PdqFloodAsync(Uri target, WellBehaved background, Server server, string adminKey, int hashes, int seconds)
    {
        using var platform = await PlatformAsync(target, adminKey, IPAddress.Parse("127.0.0.31"));
        using var signer = new ClaimSigner();
        var planted = Stopwatch.StartNew();
        await PlantAsync(platform, signer, hashes, c =>
        {
            var random = new Random(c);
            return Enumerable.Range(0, Math.Min(10_000, hashes - (c * 10_000))).Select(_ => ("pdq", RandomPdq(random), false)).ToList();
        });
        while (await server.MetricAsync("registry_index_lag", "") > 0)
        {
            await Task.Delay(200);
        }

        Console.WriteLine($"planted {hashes:N0} PDQ hashes in {planted.Elapsed.TotalSeconds:F0} s; server RSS {server.RssMiB()} MiB");

        var bodies = Enumerable.Range(0, 8).Select(b =>
        {
            var random = new Random(1_000 + b);
            return JsonSerializer.SerializeToUtf8Bytes(new { items = Enumerable.Range(0, 10_000).Select(_ => new { pdq = RandomPdq(random) }).ToArray() });
        }).ToArray();
        var statuses = new Dictionary<int, int>();
        await background.WarmUpAsync();
        var cpuBefore = server.CpuSeconds();
        var searchesBefore = await server.MetricAsync("registry_pdq_search_duration_seconds_count", "");
        var clock = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var attack = Task.WhenAll(PdqFloodAddresses.SelectMany(a => Enumerable.Range(0, 4).Select(connection => Task.Run(async () =>
        {
            using var client = Http(target, IPAddress.Parse(a));
            for (var n = connection; !deadline.IsCancellationRequested; n++)
            {
                var status = 0; // cut off at the end of the phase
                try
                {
                    using var response = await client.PostAsync("/v1/lookup",
                        new ByteArrayContent(bodies[n % bodies.Length]) { Headers = { ContentType = new("application/json") } }, deadline.Token);
                    await response.Content.ReadAsByteArrayAsync(deadline.Token);
                    status = (int)response.StatusCode;
                }
                catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
                {
                }

                lock (statuses)
                {
                    statuses[status] = statuses.GetValueOrDefault(status) + 1;
                }
            }
        }))));
        var report = await background.RunAsync(attack);
        await attack;
        var cpu = server.CpuSeconds() - cpuBefore;
        var elapsed = clock.Elapsed.TotalSeconds;
        await Task.Delay(TimeSpan.FromSeconds(1)); // the cut-off batches' last runs
        var searched = await server.MetricAsync("registry_pdq_search_duration_seconds_count", "") - searchesBefore;
        Console.WriteLine($"PDQ lookup flood, {seconds} s from 2 addresses × 4 connections of 10,000-hash batches (status 0: cut off at the end): "
            + $"{string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Value} × {s.Key}"))}; the server searched {searched:N0} PDQ hashes "
            + $"({searched / elapsed:N0}/s); server CPU {cpu:F1} s over {elapsed:F0} s");
        report.Print("during the PDQ lookup flood");
        // The default pace, 500 searches a second an address, and each bucket's first second.
        var bound = 2 * 500L * (seconds + 1);
        return Verdicts(report, searched <= bound, $"PDQ hashes searched {searched:N0} ≤ {bound:N0} (two addresses at the default 500 a second)");
    }

    /// <summary>A client at <paramref name="from"/> with an API key of a large write budget, made by an admin for the purpose.</summary>
    private static async Task<HttpClient> PlatformAsync(Uri target, string adminKey, IPAddress from)
    {
        using var admin = Http(target, IPAddress.Loopback);
        admin.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {adminKey}");
        var created = await (await admin.PostAsJsonAsync("/v1/admin/api-keys",
            new { name = $"abuse benchmark platform {from}", write_budget = new { claims_per_hour = 1_000_000, subjects_per_hour = 1_000_000_000 } })).Content.ReadFromJsonAsync<JsonElement>();
        var platform = Http(target, from);
        platform.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {created.GetProperty("key").GetString()}");
        return platform;
    }

    /// <summary>
    /// Claims <paramref name="subjects"/> subjects in claims of 10,000 (<paramref name="claim"/> gives
    /// claim c's), four at a time; a 429 (four at a time can pass the key's write rate) is waited out as told.
    /// </summary>
    private static Task PlantAsync(HttpClient platform, ClaimSigner signer, int subjects, Func<int, IReadOnlyList<(string Kind, string Value, bool IncludeSubdomains)>> claim) =>
        Parallel.ForEachAsync(Enumerable.Range(0, (subjects + 9_999) / 10_000), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (c, _) =>
        {
            var jws = signer.SignOptOut(claim(c), Now());
            while (true)
            {
                using var response = await platform.PostAsync("/v1/claims", new StringContent(jws, Encoding.ASCII, "application/jose"));
                if (response.StatusCode != HttpStatusCode.TooManyRequests)
                {
                    response.EnsureSuccessStatusCode();
                    break;
                }

                await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
            }
        });

    private static string RandomPdq(Random random)
    {
        Span<byte> bytes = stackalloc byte[32];
        random.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    private static bool Verdicts(Report during, bool attackBounded, string what)
    {
        var baseline = JsonSerializer.Deserialize<Report>(File.ReadAllText(Path.Combine(Path.GetTempPath(), "registry-abuse-baseline.json")))!;
        var builderOk = during.BuilderP99 <= 2 * baseline.BuilderP99;
        var artistOk = during.ArtistP99 <= 2 * baseline.ArtistP99;
        Console.WriteLine($"  {(attackBounded ? "PASS" : "FAIL")} {what}");
        Console.WriteLine($"  {(builderOk ? "PASS" : "FAIL")} builder p99 {during.BuilderP99:F0} ms ≤ 2 × unloaded {baseline.BuilderP99:F0} ms");
        Console.WriteLine($"  {(artistOk ? "PASS" : "FAIL")} artists' p99 {during.ArtistP99:F0} ms ≤ 2 × unloaded {baseline.ArtistP99:F0} ms");
        Console.WriteLine($"  {(during.Rejected == 0 ? "PASS" : "FAIL")} well-behaved clients got {during.Rejected} 429s and {during.Failed} other errors");
        return attackBounded && builderOk && artistOk && during.Rejected == 0 && during.Failed == 0;
    }

    internal static HttpClient Http(Uri target, IPAddress local) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = 8,
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            socket.Bind(new IPEndPoint(local, 0));
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        },
    })
    { BaseAddress = target, Timeout = TimeSpan.FromMinutes(5) };

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>The nearest-rank percentile: the smallest value with at least <paramref name="p"/> of the values at or below it.</summary>
    internal static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    /// <summary>The server process, read from /proc: resident and peak memory, CPU time, its /metrics.</summary>
    private sealed class Server(Uri target, int pid)
    {
        public long RssMiB() => Status("VmRSS:") / 1024;

        public long PeakMiB() => Status("VmHWM:") / 1024;

        /// <summary>Resets VmHWM to the current RSS (Linux clear_refs 5), so the next peak is the next phase's.</summary>
        public void ResetPeak() => File.WriteAllText($"/proc/{pid}/clear_refs", "5");

        public double CpuSeconds()
        {
            var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }

        public async Task<double> MetricAsync(string name, string label)
        {
            using var client = Http(target, IPAddress.Loopback);
            var text = await client.GetStringAsync("/metrics");
            return text.Split('\n')
                .Where(l => l.StartsWith(name, StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal))
                .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        }

        private long Status(string field) =>
            long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field, StringComparison.Ordinal))
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }
}

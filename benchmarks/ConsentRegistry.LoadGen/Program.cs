using ConsentRegistry.LoadGen;

// Load generator for a running registry (loopback only in this project's benchmarks).
var options = Options.Parse(args);
if (options is null)
{
    Console.Error.WriteLine("""
        usage: ConsentRegistry.LoadGen <command> [options]
          claims        POST signed opt-out claims (pre-signed before timing); reports claims/s, subjects/s, latency
                        --target URL --count N --subjects N (per claim) --concurrency N
          seed          register the lookup universe's N subjects (90 % url, 5 % url-prefix, 5 % host) in 10,000-subject claims
                        --target URL --subjects N --concurrency N [--sha256 N --pdq N: image hashes beside them]
          lookup        check, then time, the lookup endpoints against a seeded universe of the same N
                        --target URL --subjects N --endpoint batch|stream|spawning|all --concurrency N --seconds N
                        [--rate URLs/s: pace the batch workers] [--server-pid PID: sample its memory]
          index-memory  build the matching index of the universe's N subjects in this process; reports bytes per
                        subject and lookups per second on one thread (one by one, then in prefetched runs: N seconds each)
                        --subjects N [--per-claim N (default 10,000)] [--lookup-seconds N (default 10)]
                        [--snapshot FILE: write the index to a snapshot file, read it back (both timed), look up on that]
                        [--sha256 N --pdq N: image hashes beside the universe, as seed registers them]
                        [--incremental true: add claims as a serving index takes new ones, not as the build from the store]
                        [--compact false: look up on the index as its merges left it, not compacted as after a start]
          snapshot-read read a snapshot file index-memory --snapshot wrote, in a fresh process; time it, then look up on it
                        --snapshot FILE --subjects N (as written) [--lookup-seconds N (default 5)]
          laion-parquet write a LAION-like metadata Parquet whose URLs come from the universe of N subjects (about half registered)
                        --subjects N --rows N --out FILE [--row-group N (default 100,000)] [--registered-percent P (default 50)]
          parquet-copy  time ParquetSharp (the filter's library) reading a file's every column, then reading and rewriting it, on one thread
                        --file FILE
          policy        opt N url-prefixes out on a fresh host, then time its robots.txt: first, cached 200s, 304s
                        --target URL --prefixes N (default 10,000) --requests N (default 2,000)
          abuse         one phase of benchmarks/abuse.sh: baseline | flood | amplify | policy | pdq, beside well-behaved clients,
                        or burst (the flood's opening burst N times, the artist's claim sent with each)
                        --phase P --target URL --server-pid PID --admin-key K [--seconds N] [--policy-subjects N] [--pdq-hashes N] [--trials N (default 20)]
                        [--attackers-nice N: the flood's attackers in a process of their own at nice N (0: in this one)]
                        [--artists N (default 10): well-behaved artists, each a 20-URL claim every 3 s from its own address]
        """);
    return 2;
}

return options.Command switch
{
    "claims" => await ClaimsLoad.RunAsync(options.Target, options.Int("--count", 20_000), options.Int("--subjects", 1), options.Int("--concurrency", 64)),
    "seed" => await LookupLoad.SeedAsync(
        options.Target, options.Int("--subjects", 1_000_000), options.Int("--concurrency", 4), options.Int("--sha256", 0), options.Int("--pdq", 0)),
    "lookup" => await LookupLoad.RunAsync(
        options.Target, options.Value("--endpoint", "all"), options.Int("--subjects", 1_000_000), options.Int("--concurrency", 2),
        options.Int("--seconds", 20), options.Int("--rate", 0), options.Values.ContainsKey("--server-pid") ? options.Int("--server-pid", 0) : null),
    "index-memory" => IndexMemory.Run(
        options.Int("--subjects", 1_000_000), options.Int("--per-claim", 10_000), options.Int("--lookup-seconds", 10), options.Values.GetValueOrDefault("--snapshot"),
        options.Int("--sha256", 0), options.Int("--pdq", 0), options.Value("--incremental", "false") == "true", options.Value("--compact", "true") == "true"),
    "snapshot-read" => IndexMemory.ReadSnapshot(options.Value("--snapshot", "index.snap"), options.Int("--subjects", 1_000_000), options.Int("--lookup-seconds", 5)),
    "laion-parquet" => await LaionParquet.RunAsync(
        options.Int("--subjects", 1_000_000), options.Int("--rows", 1_000_000), options.Int("--row-group", 100_000), options.Value("--out", "laion.parquet"),
        options.Int("--registered-percent", 50)),
    "parquet-copy" => await ParquetCopy.RunAsync(options.Value("--file", "laion.parquet")),
    "policy" => await PolicyLoad.RunAsync(options.Target, options.Int("--prefixes", 10_000), options.Int("--requests", 2_000)),
    "abuse" => await AbuseLoad.RunAsync(options.Value("--phase", "baseline"), options.Target, options.Int("--seconds", 30), options.Int("--server-pid", 0),
        options.Value("--admin-key", ""), options.Int("--policy-subjects", 300_000), options.Int("--trials", 20),
        options.Int("--attackers-nice", 0), options.Int("--artists", 10), options.Int("--pdq-hashes", 1_000_000)),
    _ => 2,
};

internal sealed record Options(string Command, Uri Target, Dictionary<string, string> Values)
{
    private static readonly string[] Commands = ["claims", "seed", "lookup", "index-memory", "snapshot-read", "laion-parquet", "parquet-copy", "policy", "abuse"];

    public static Options? Parse(string[] args)
    {
        if (args.Length == 0 || !Commands.Contains(args[0]))
        {
            return null;
        }

        var values = new Dictionary<string, string>();
        for (var i = 1; i + 1 < args.Length; i += 2)
        {
            values[args[i]] = args[i + 1];
        }

        return new Options(args[0], new Uri(values.GetValueOrDefault("--target", "http://127.0.0.1:5099")), values);
    }

    public int Int(string name, int fallback) => Values.TryGetValue(name, out var v) && int.TryParse(v, out var n) && n > 0 ? n : fallback;

    public string Value(string name, string fallback) => Values.GetValueOrDefault(name, fallback);
}

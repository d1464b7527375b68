using ConsentRegistry.LoadGen;

// Load generator for a running registry (loopback only in this project's benchmarks).
//   dotnet run -c Release --project benchmarks/ConsentRegistry.LoadGen -- claims --target http://127.0.0.1:5099 --count 20000 --subjects 1 --concurrency 64
var options = Options.Parse(args);
if (options is null)
{
    Console.Error.WriteLine("""
        usage: ConsentRegistry.LoadGen claims [--target URL] [--count N] [--subjects N] [--concurrency N]
          claims   POST signed opt-out claims (pre-signed before timing) and report claims/s, subjects/s, latency
        """);
    return 2;
}

return options.Command switch
{
    "claims" => await ClaimsLoad.RunAsync(options.Target, options.Count, options.Subjects, options.Concurrency),
    _ => 2,
};

internal sealed record Options(string Command, Uri Target, int Count, int Subjects, int Concurrency)
{
    public static Options? Parse(string[] args)
    {
        if (args.Length == 0 || args[0] is not "claims")
        {
            return null;
        }

        var values = new Dictionary<string, string>();
        for (var i = 1; i + 1 < args.Length; i += 2)
        {
            values[args[i]] = args[i + 1];
        }

        int Int(string name, int fallback) => values.TryGetValue(name, out var v) && int.TryParse(v, out var n) && n > 0 ? n : fallback;
        return new Options(
            args[0],
            new Uri(values.GetValueOrDefault("--target", "http://127.0.0.1:5099")),
            Int("--count", 20_000),
            Int("--subjects", 1),
            Int("--concurrency", 64));
    }
}

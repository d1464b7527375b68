namespace ConsentRegistry.NearDup;

/// <summary>Minimal command-line options: <c>--name value...</c> pairs (several values allowed) and positionals.</summary>
public sealed class Options
{
    private readonly Dictionary<string, List<string>> _named = [];

    public List<string> Positional { get; } = [];

    public static Options Parse(string[] args)
    {
        var o = new Options();
        List<string>? current = null;
        foreach (string a in args)
        {
            if (a.StartsWith("--", StringComparison.Ordinal)) o._named[a[2..]] = current = [];
            else (current ?? o.Positional).Add(a);
        }
        return o;
    }

    public string[] Many(string name) =>
        _named.TryGetValue(name, out var v) && v.Count > 0 ? v.ToArray() : throw new ArgumentException($"--{name} is required.");

    /// <summary>Whether <c>--name</c> was given, as a flag (words after it count as its values: write flags after the positionals).</summary>
    public bool Has(string name) => _named.ContainsKey(name);

    public string One(string name) => Many(name)[0];

    public string OneOr(string name, string fallback) => _named.TryGetValue(name, out var v) && v.Count > 0 ? v[0] : fallback;

    public int Int(string name, int fallback) => _named.TryGetValue(name, out var v) && v.Count > 0 ? int.Parse(v[0]) : fallback;
}

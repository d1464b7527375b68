using System.Globalization;
using System.Text;

namespace ConsentRegistry.Api.Tests.Observability;

/// <summary>One sample of a scrape: <c>name{label="value",…} value</c>.</summary>
internal sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>
/// A scrape of /metrics in the Prometheus text format (version 0.0.4), parsed here without the
/// exporter's code: comments skipped, label values unescaped, samples kept in order.
/// </summary>
internal sealed class PrometheusText
{
    private PrometheusText(string text, List<Sample> samples)
    {
        Text = text;
        Samples = samples;
    }

    public string Text { get; }

    public IReadOnlyList<Sample> Samples { get; }

    public static PrometheusText Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            samples.Add(ParseSample(line));
        }

        return new PrometheusText(text, samples);
    }

    public bool Has(string name) => Samples.Any(s => s.Name == name);

    /// <summary>The sum of the samples named <paramref name="name"/> that carry every given label; 0 when none does.</summary>
    public double Sum(string name, params (string Label, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value)).Sum(s => s.Value);

    /// <summary>The one sample named <paramref name="name"/> with the given labels; fails unless there is exactly one.</summary>
    public double Single(string name, params (string Label, string Value)[] labels) =>
        Assert.Single(Samples, s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value)).Value;

    private static Sample ParseSample(string line)
    {
        var labels = new Dictionary<string, string>();
        var at = line.IndexOfAny(['{', ' ']);
        var name = line[..at];
        if (line[at] == '{')
        {
            at++;
            while (line[at] != '}')
            {
                var equals = line.IndexOf('=', at);
                var label = line[at..equals];
                Assert.Equal('"', line[equals + 1]);
                var value = new StringBuilder();
                at = equals + 2;
                for (; line[at] != '"'; at++)
                {
                    if (line[at] == '\\')
                    {
                        at++;
                        value.Append(line[at] == 'n' ? '\n' : line[at]);
                    }
                    else
                    {
                        value.Append(line[at]);
                    }
                }

                labels.Add(label, value.ToString());
                at++; // the closing quote
                if (line[at] == ',')
                {
                    at++;
                }
            }

            at++; // the closing brace
        }

        var fields = line[at..].Trim().Split(' ');
        var number = fields[0] switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            var n => double.Parse(n, NumberStyles.Float, CultureInfo.InvariantCulture),
        };
        return new Sample(name, labels, number);
    }
}

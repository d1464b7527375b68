using System.Text;
using System.Text.RegularExpressions;
using ConsentRegistry.Api.Tests.Cli;
using ConsentRegistry.Api.Tests.Infrastructure;

namespace ConsentRegistry.Api.Tests.Platform;

/// <summary>
/// The README's walk-through (its <c>sh</c> blocks from "Submit a signed claim" to "Revoke a
/// claim", run in order in one bash) against the real service on a fresh store, each command's
/// output compared with the comment lines that follow it: what a newcomer copies and pastes must
/// answer what the README shows. See <see cref="ReadmeWalkThrough"/> for how the README is read.
/// </summary>
public sealed class ReadmeWalkThroughTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("registry-readme-").FullName;

    [Fact]
    public async Task The_readme_walk_through_answers_what_the_readme_shows()
    {
        var steps = ReadmeWalkThrough.Read(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "README.md")));
        Assert.True(steps.Count(step => step.Expected.Count > 0) >= 10, "The README's walk-through was not found (its sections renamed?).");

        await using var app = await RegistryApp.StartAsync();
        var (exitCode, output, errors) = await RunAsync(steps, app.ClientOptions.BaseAddress.ToString().TrimEnd('/'));

        Assert.True(exitCode == 0, $"The walk-through stopped with exit code {exitCode}: {errors}");
        var outputs = ReadmeWalkThrough.SplitOutputs(output, steps.Count);
        for (var i = 0; i < steps.Count; i++)
        {
            if (steps[i].Expected.Count > 0)
            {
                Assert.True(
                    ReadmeWalkThrough.Matches(steps[i].Expected, outputs[i]),
                    $"README line {steps[i].Line}: {steps[i].Commands.Trim()}\nshows:\n{string.Join('\n', steps[i].Expected)}\nbut answered:\n{outputs[i]}");
            }
        }
    }

    /// <summary>
    /// Runs the steps in one bash in a folder of their own (the README's paths, scripts/ and docs/,
    /// link to the repository), with a signing key of their own and the README's python3 being the
    /// one with the cryptography package.
    /// </summary>
    private async Task<(int Exit, string Out, string Errors)> RunAsync(IReadOnlyList<ReadmeWalkThrough.Step> steps, string registry)
    {
        foreach (var folder in new[] { "scripts", "docs" })
        {
            Directory.CreateSymbolicLink(Path.Combine(_directory, folder), Path.Combine(RepositoryPaths.Root, folder));
        }

        var bin = Directory.CreateDirectory(Path.Combine(_directory, "bin")).FullName;
        var python = Environment.GetEnvironmentVariable("REGISTRY_TEST_PYTHON") is { Length: > 0 } p ? p : "/usr/bin/python3";
        File.CreateSymbolicLink(Path.Combine(bin, "python3"), python);

        var script = new StringBuilder("set -euo pipefail\n");
        for (var i = 0; i < steps.Count; i++)
        {
            script.Append(FormattableString.Invariant($"printf '\\n{ReadmeWalkThrough.Marker}{i}\\n'\n"));
            script.Append(steps[i].Commands.Replace("http://127.0.0.1:5099", registry, StringComparison.Ordinal)).Append('\n');
        }

        var walk = Path.Combine(_directory, "walk-through.sh");
        await File.WriteAllTextAsync(walk, script.ToString());
        return await CliRun.RunProgramAsync("bash", [walk], TimeSpan.FromMinutes(2), _directory, new Dictionary<string, string>
        {
            ["PATH"] = $"{bin}:{Environment.GetEnvironmentVariable("PATH")}",
            ["XDG_CONFIG_HOME"] = Path.Combine(_directory, "config"),
        });
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}

/// <summary>
/// How the README's walk-through is read. A step is the commands up to a comment line that
/// follows a command directly; the comment lines from there to the next blank line are what the
/// commands print (a comment after a blank line is prose, and starts the next step). In what they
/// show, "…" stands for anything within a line, and a line of only "…" for any number of lines; a
/// shown line that starts with spaces continues the line before it (JSON broken for reading).
/// </summary>
internal static partial class ReadmeWalkThrough
{
    public const string Marker = "@@readme-step ";

    private static readonly string[] Sections =
    [
        "Submit a signed claim", "Hash an image", "Copies at other URLs: the fingerprint worker",
        "Look up URLs and hashes in bulk", "Tell crawlers", "Revoke a claim",
    ];

    public sealed record Step(string Commands, IReadOnlyList<string> Expected, int Line);

    public static IReadOnlyList<Step> Read(string readme)
    {
        var steps = new List<Step>();
        var lines = readme.Split('\n');
        var section = "";
        var inBlock = false;
        var commands = new StringBuilder();
        var expected = new List<string>();
        var stepLine = 0;
        var afterCommand = false;

        void EndStep()
        {
            if (commands.Length > 0 || expected.Count > 0)
            {
                steps.Add(new Step(commands.ToString(), [.. expected], stepLine));
            }

            commands.Clear();
            expected.Clear();
            afterCommand = false;
        }

        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n].TrimEnd('\r');
            if (!inBlock)
            {
                if (line.StartsWith("## ", StringComparison.Ordinal))
                {
                    section = line[3..];
                }

                inBlock = line == "```sh" && Sections.Contains(section);
                continue;
            }

            if (line == "```")
            {
                EndStep();
                inBlock = false;
            }
            else if (line.StartsWith('#') && (afterCommand || expected.Count > 0))
            {
                expected.Add(line.Length > 1 ? line[2..] : "");
                afterCommand = false;
            }
            else if (line.Length == 0 || line.StartsWith('#'))
            {
                if (expected.Count > 0)
                {
                    EndStep();
                }

                afterCommand = false;
            }
            else
            {
                if (expected.Count > 0)
                {
                    EndStep();
                }

                if (commands.Length == 0)
                {
                    stepLine = n + 1;
                }

                commands.Append(line).Append('\n');
                afterCommand = true;
            }
        }

        return steps;
    }

    /// <summary>Each step's output, by the markers printed before each one, with blank lines at either end trimmed.</summary>
    public static string[] SplitOutputs(string output, int steps)
    {
        var outputs = new string[steps];
        Array.Fill(outputs, "");
        var parts = StepMarker().Split(output.Replace("\r", "", StringComparison.Ordinal));
        // Split with a capture: text, step number, text, step number, …
        for (var i = 1; i + 1 < parts.Length; i += 2)
        {
            outputs[int.Parse(parts[i], System.Globalization.CultureInfo.InvariantCulture)] = parts[i + 1].Trim('\n');
        }

        return outputs;
    }

    public static bool Matches(IReadOnlyList<string> expected, string actual)
    {
        var joined = new List<string>();
        foreach (var line in expected)
        {
            if (joined.Count > 0 && line.StartsWith(' '))
            {
                joined[^1] += line.Trim();
            }
            else
            {
                joined.Add(line);
            }
        }

        var pattern = new StringBuilder("^");
        foreach (var line in joined)
        {
            pattern.Append(line.Trim() == "…"
                ? "(?:[^\n]*\n)*?"
                : string.Join(".*?", line.Split('…').Select(Regex.Escape)) + "\n");
        }

        return Regex.IsMatch(actual + "\n", pattern.Append('$').ToString(), RegexOptions.None, TimeSpan.FromSeconds(5));
    }

    [GeneratedRegex(@"\n?@@readme-step (\d+)\n")]
    private static partial Regex StepMarker();
}

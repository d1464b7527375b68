using System.Diagnostics;
using System.Text.Json;
using ConsentRegistry.Api.Tests.Infrastructure;

namespace ConsentRegistry.Api.Tests.Policy;

/// <summary>
/// Two robots.txt parsers the registry did not write: CPython's urllib.robotparser (first match,
/// no <c>*</c> or <c>$</c>) and the npm robots-parser (RFC 9309: longest match, <c>*</c> and
/// <c>$</c>), run from tests/policy-parsers (scripts/test.sh runs <c>npm ci</c> there).
/// </summary>
internal static class RobotsParsers
{
    private static readonly string Directory = Path.Combine(RepositoryPaths.Root, "tests", "policy-parsers");

    public static Task<bool[]> PythonAsync(string robotsTxt, string host, IReadOnlyList<(string Agent, string Url)> checks) =>
        RunAsync(Environment.GetEnvironmentVariable("REGISTRY_TEST_PYTHON") is { Length: > 0 } p ? p : "python3", "robots_check.py", robotsTxt, host, checks);

    public static Task<bool[]> NpmAsync(string robotsTxt, string host, IReadOnlyList<(string Agent, string Url)> checks) =>
        RunAsync("node", "robots_check.js", robotsTxt, host, checks);

    private static async Task<bool[]> RunAsync(string program, string script, string robotsTxt, string host, IReadOnlyList<(string Agent, string Url)> checks)
    {
        var robotsFile = Path.GetTempFileName();
        var checksFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(robotsFile, robotsTxt);
            await File.WriteAllTextAsync(checksFile, JsonSerializer.Serialize(new
            {
                robotsUrl = $"https://{host}/robots.txt",
                checks = checks.Select(c => new { agent = c.Agent, url = c.Url }),
            }));
            var start = new ProcessStartInfo(program) { WorkingDirectory = Directory, RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(Path.Combine(Directory, script));
            start.ArgumentList.Add(robotsFile);
            start.ArgumentList.Add(checksFile);
            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            var error = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, $"{program} {script} failed: {error}");
            var answers = JsonSerializer.Deserialize<bool?[]>(output)!;
            Assert.All(answers, a => Assert.NotNull(a));
            return answers.Select(a => a!.Value).ToArray();
        }
        finally
        {
            File.Delete(robotsFile);
            File.Delete(checksFile);
        }
    }
}

using System.ComponentModel;
using ConsentRegistry.Cli.Console;
using ConsentRegistry.Core.Snapshots;
using Spectre.Console;
using Spectre.Console.Cli;
using ConsentRegistry.Cli.Http;

namespace ConsentRegistry.Cli.Snapshots;

/// <summary>
/// <c>consent-registry snapshot pull</c>: the registry's newest index snapshot, as one file that
/// <c>filter --snapshot</c> reads offline. Nothing the registry says is taken before its signature
/// checks out against a pinned key (docs/snapshot-format.md, "Checking the signature"): the id,
/// seq and file list come from the signed payload, and the file must have the size and SHA-256 it
/// gives and a header that agrees with it before it replaces the output.
/// </summary>
public sealed class SnapshotPullCommand : AsyncCommand<SnapshotPullCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandOption("--registry <URL>")]
        [Description("The registry to pull from.")]
        public string? Registry { get; init; }

        [CommandOption("-o|--out <FILE>")]
        [Description("The snapshot file to write; its manifest goes beside it as <FILE>.manifest.json, a download in progress as <FILE>.partial.")]
        public string? Out { get; init; }

        [CommandOption("--key <JWKFILE>")]
        [Description("The registry's public key (JWK) the manifest must be signed by. Without it the registry's key is fetched once, pinned as <FILE>.registry-key.jwk, and used from then on.")]
        public string? Key { get; init; }

        [CommandOption("--allow-older")]
        [Description("Install the registry's newest snapshot even when it is older than the one already in <FILE> (a lower seq of the same store, as from a replica that lags behind, or another store's made earlier).")]
        public bool AllowOlder { get; init; }

        [CommandOption("--api-key <KEY>")]
        [Description("An API key for the registry (sent as 'Authorization: API <key>'); default: the CONSENT_REGISTRY_API_KEY environment variable.")]
        public string? ApiKey { get; init; }

        public override ValidationResult Validate()
        {
            if (Registry is null || !(Uri.TryCreate(Registry, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
            {
                return ValidationResult.Error(Registry is null ? "--registry <URL> is required." : $"--registry {Registry} is not an http(s) URL.");
            }

            if (string.IsNullOrWhiteSpace(Out))
            {
                return ValidationResult.Error("--out <FILE> is required.");
            }

            if (Key is not null && string.IsNullOrWhiteSpace(Key))
            {
                return ValidationResult.Error("--key names no file.");
            }

            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var paths = new PullPaths(Path.GetFullPath(settings.Out!));
        try
        {
            return await PullAsync(settings, paths, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new CliException(ExitCodes.Interrupted, File.Exists(paths.Partial)
                ? $"stopped; what was downloaded is kept in {paths.Partial}: run the same snapshot pull to continue it."
                : "stopped.");
        }
    }

    private static async Task<int> PullAsync(Settings settings, PullPaths paths, CancellationToken cancellationToken)
    {
        CheckWritable(paths);
        using var pulling = paths.TakeLock();
        var apiKey = settings.ApiKey ?? Environment.GetEnvironmentVariable("CONSENT_REGISTRY_API_KEY");
        if (apiKey is not null && (apiKey.Length == 0 || apiKey.Any(c => c is < '!' or > '~')))
        {
            throw CliException.Input("the API key (--api-key or CONSENT_REGISTRY_API_KEY) is empty or holds characters other than printable ASCII.");
        }

        var note = CliOutput.Notes(settings.Quiet);
        var registry = new Uri(settings.Registry!.EndsWith('/') ? settings.Registry : settings.Registry + "/");
        using var http = new RegistryHttp(registry, apiKey, note);

        // Trust on first use is said even with --quiet: it is the one moment the user can check the key.
        using var key = await RegistryKeyPin.ResolveAsync(settings.Key, paths, http, CliOutput.Notes(quiet: false), cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await PullNewestAsync(settings, paths, http, key, note, cancellationToken);
            }
            catch (SnapshotDownloader.SnapshotGoneException gone)
            {
                if (attempt >= MaxTriesWhenGone)
                {
                    throw CliException.Registry($"{gone.Message}, {MaxTriesWhenGone} times: run snapshot pull again; it starts from the newest one.", gone);
                }

                note($"{gone.Message}; reading the registry's newest snapshot again");
            }
        }
    }

    /// <summary>
    /// How often a snapshot that is gone (404) sends the pull back to the newest manifest: it may
    /// have been replaced during a long download, or, behind a load balancer, the file was asked of
    /// an instance that does not hold it (each instance keeps its own snapshots).
    /// </summary>
    private const int MaxTriesWhenGone = 3;

    private static async Task<int> PullNewestAsync(
        Settings settings, PullPaths paths, RegistryHttp http, RegistryPublicKey key, Action<string> note, CancellationToken cancellationToken)
    {
        var manifest = await LatestVerifiedAsync(http, key, cancellationToken);
        var file = manifest.Files?.FirstOrDefault(f => f.Name == SnapshotManifest.IndexFileName)
            ?? throw CliException.Registry($"snapshot {manifest.Id} lists no {SnapshotManifest.IndexFileName}.");

        try
        {
            RefuseOlder(settings, paths, key, manifest);
            if (await paths.IsUpToDateAsync(manifest, file, cancellationToken))
            {
                Result(settings, $"{paths.Out} is already up to date: snapshot {manifest.Id} (seq {manifest.Seq}).");
                return ExitCodes.Done;
            }

            paths.PreparePartial(manifest, file, note);
            try
            {
                await DownloadProgress.RunAsync(settings.Quiet, $"snapshot {manifest.Id}", file.Size,
                    progress => new SnapshotDownloader(http, progress).DownloadAsync(manifest, file, paths.Partial, cancellationToken));
            }
            catch (CliException e) when (e.ExitCode == ExitCodes.VerificationFailed)
            {
                paths.DiscardPartial(); // what a registry sent against its signed manifest is not kept to continue
                throw;
            }

            await PulledFileCheck.VerifyAsync(paths, manifest, file, cancellationToken);
            paths.Install(manifest);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            throw CliException.Input($"cannot read or write {paths.Out} or the files beside it: {e.Message}", e);
        }

        Result(settings, $"{paths.Out}: snapshot {manifest.Id} (seq {manifest.Seq}, {file.Size:N0} bytes), signed by registry key {key.Kid}; manifest in {paths.Manifest}");
        return ExitCodes.Done;
    }

    private static void Result(Settings settings, string line)
    {
        if (!settings.Quiet)
        {
            System.Console.Out.WriteLine(line);
        }
    }

    /// <summary>
    /// A signed manifest can be replayed (by a mirror, a proxy or a replica that lags behind): one
    /// older than the installed snapshot of the same store would bring back rows opted out since,
    /// so it is refused unless asked for. What is installed is told by its manifest when the pinned
    /// key signed it, else by the file's own header (a pull stopped between installing the file and
    /// its manifest leaves none). Another store's snapshot (a registry rebuilt from scratch) is
    /// taken, with a note, when it was made after the installed one.
    /// </summary>
    private static void RefuseOlder(Settings settings, PullPaths paths, RegistryPublicKey key, SnapshotManifest manifest)
    {
        if (Installed(paths, key) is not { } installed)
        {
            return;
        }

        if (installed.Store != manifest.Store)
        {
            // Seqs of two stores do not compare, but their signed creation times do: a store's
            // snapshot kept from before the store was recreated (by a mirror, or a proxy's cache)
            // is older than what was installed since, and would bring back what was opted out.
            if (manifest.Created < installed.Created && !settings.AllowOlder)
            {
                throw CliException.Verification(
                    $"the registry's snapshot {manifest.Id} is of store {manifest.Store} and was made before {paths.Out} (snapshot {installed.Id} of store {installed.Store}): "
                    + "refused, as it would bring back what was opted out since. Pass --allow-older to install it.");
            }

            CliOutput.Notes(settings.Quiet)($"the registry's snapshot {manifest.Id} is of store {manifest.Store}; {paths.Out} held snapshot {installed.Id} of store {installed.Store}");
        }
        else if (manifest.Seq < installed.Seq && !settings.AllowOlder)
        {
            throw CliException.Verification(
                $"the registry's newest snapshot {manifest.Id} (seq {manifest.Seq}) is older than {paths.Out} (snapshot {installed.Id}, seq {installed.Seq}): refused, "
                + "as it would bring back what was opted out since. A registry behind a load balancer may have answered from a replica that lags: try again, or pass --allow-older to install it.");
        }
    }

    /// <summary>The snapshot in <c>--out</c>: by its signed manifest, else by the file's header; null when there is none to read.</summary>
    private static (string Id, long Seq, Guid Store, DateTimeOffset Created)? Installed(PullPaths paths, RegistryPublicKey key)
    {
        if (File.Exists(paths.Manifest) && SnapshotManifest.Parse(File.ReadAllBytes(paths.Manifest)) is { } signed && signed.IsSignedBy(key))
        {
            return (signed.Id, signed.Seq, signed.Store, signed.Created);
        }

        return paths.ReadOutHeader() is { } header
            ? (SnapshotManifest.IdFor(header.Seq, header.Created), header.Seq, header.StoreId, header.Created)
            : null;
    }

    /// <summary>Fails before any network use when the output cannot be written: a folder named as the file, or a folder that refuses files.</summary>
    private static void CheckWritable(PullPaths paths)
    {
        if (Directory.Exists(paths.Out))
        {
            throw CliException.Input($"--out {paths.Out} is a folder: name the snapshot file to write.");
        }

        var probe = $"{paths.Out}.{Environment.ProcessId}.probe";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(paths.Out)!);
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            throw CliException.Input($"cannot write {paths.Out}: {e.Message}", e);
        }
    }

    /// <summary>The newest snapshot's manifest as signed: only the verified payload is read, whatever else the answer says.</summary>
    private static async Task<SnapshotManifest> LatestVerifiedAsync(RegistryHttp http, RegistryPublicKey key, CancellationToken cancellationToken)
    {
        var body = await http.GetBytesAsync("v1/snapshots/latest", cancellationToken);
        var served = SnapshotManifest.Parse(body)
            ?? throw CliException.Registry($"the registry at {http.Registry} answered /v1/snapshots/latest with something that is not a snapshot manifest.");
        if (string.IsNullOrEmpty(served.Signature) || !key.TryVerify(served.Signature, SnapshotManifest.SignatureType, out var payload))
        {
            var signer = served.Signature is null ? null : RegistryKeyPin.KidOf(served.Signature);
            throw CliException.Verification(
                $"the snapshot manifest from {http.Registry} is not signed by the pinned registry key (kid {key.Kid}){(signer is null ? "" : $"; it names the key {signer}")}: refused. "
                + "If the registry's key was replaced, get the new one from its operator and pass it with --key.");
        }

        var manifest = SnapshotManifest.FromSignedPayload(payload, served.Signature)
            ?? throw CliException.Verification("the signed payload of the registry's manifest is not a snapshot manifest.");
        if (manifest.Id != SnapshotManifest.IdFor(manifest.Seq, manifest.Created))
        {
            throw CliException.Verification($"the signed manifest's id is not the one its seq and creation time give ({SnapshotManifest.IdFor(manifest.Seq, manifest.Created)}).");
        }

        if (manifest.Format != SnapshotHeader.CurrentFormat)
        {
            throw CliException.Input(
                $"snapshot {manifest.Id} is of format version {manifest.Format}; this consent-registry reads version {SnapshotHeader.CurrentFormat}: update it.");
        }

        return manifest;
    }
}

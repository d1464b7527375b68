#!/usr/bin/env bash
# Runs every test twice: once on the embedded SQLite store, once on a throwaway PostgreSQL
# cluster (temporary directory, free port on 127.0.0.1, removed afterwards whatever happens).
# On a fresh Debian machine it installs what is missing when run as root (see --help).
#
#   scripts/test.sh                 # both engines
#   scripts/test.sh sqlite          # one engine
#   scripts/test.sh postgres -- --filter "FullyQualifiedName~Claims"   # extra dotnet test arguments
#   scripts/test.sh --fresh-clone   # the same, in a fresh clone of HEAD with nothing beside it
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

usage() {
  cat <<'USAGE'
usage: scripts/test.sh [sqlite] [postgres] [--fresh-clone] [-- dotnet test arguments]

Builds ConsentRegistry.sln and runs its tests on each engine named (both when none is):
  sqlite         the embedded SQLite store
  postgres       a throwaway PostgreSQL cluster: temporary directory, free port on 127.0.0.1,
                 removed afterwards

Options:
  --fresh-clone  git clone the current commit (HEAD; uncommitted changes are left out) into an
                 empty temporary folder, run this script there with the same engines and
                 dotnet test arguments, copy its TestResults/ back here and remove the clone:
                 proves that the suite passes with nothing beside the clone
  -h, --help     this text

Everything after -- goes to dotnet test, e.g.
  scripts/test.sh sqlite -- --filter "FullyQualifiedName~Revocation"

Run as root on Debian, it installs what is missing (so it needs the package registries the
first time): PostgreSQL's server binaries (initdb), Debian's Chromium and fonts for the browser
tests, the Node packages of tests/policy-parsers (npm ci), Python's cryptography package. The
package names are Debian's (Ubuntu's Chromium is a snap: put one at /usr/bin/chromium first).
Through sudo, keep the .NET SDK on PATH: sudo env "PATH=$PATH" bash scripts/test.sh (README.md).
At the end it prints "N passed, N failed, N skipped", counted from the TRX reports in TestResults/.
A run fails when an engine ran no test (a --filter that selects none on it included); a full run
(no --filter) also fails when it lacks a test project's report on an engine (its test host died) or
a report holds no test; and so does a run stopped by Ctrl-C or SIGTERM, whatever the reports say.
A test host in which no test starts or finishes for 10 minutes (REGISTRY_TEST_HANG_TIMEOUT, in
dotnet test's --blame-hang-timeout format: 90s, 10m) is killed and the tests it was running are
named and counted as failed.
USAGE
}

engines=()
fresh_clone=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    sqlite|postgres) engines+=("$1"); shift ;;
    --fresh-clone) fresh_clone=true; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) echo "scripts/test.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ ${#engines[@]} -gt 0 ]] || engines=(sqlite postgres)
extra_args=("$@")

# shellcheck source=scripts/lib/common.sh
source "$repo/scripts/lib/common.sh"

# --- --fresh-clone: the same run in a clone of HEAD, alone in an empty temporary folder ---------
if [[ $fresh_clone == true ]]; then
  command -v git >/dev/null || { echo "--fresh-clone needs git." >&2; exit 1; }
  # Only reads this checkout; CI (and sudo) may run as root in a checkout another user owns.
  source_git=(git -c safe.directory='*' -C "$repo")
  head="$("${source_git[@]}" rev-parse HEAD)"
  if [[ -n "$("${source_git[@]}" status --porcelain)" ]]; then
    echo "Note: uncommitted changes are not in the clone; it tests commit $head." >&2
  fi
  scratch="$(mktemp -d -t registry-clone.XXXXXX)"
  trap 'rm -rf "$scratch"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  clone="$scratch/ConsentRegistry"
  log "Cloning $head into $clone (nothing beside it)"
  git -c safe.directory='*' clone --quiet --no-checkout -- "$repo" "$clone"
  git -C "$clone" checkout --quiet --detach "$head"

  status=0
  bash "$clone/scripts/test.sh" "${engines[@]}" -- "${extra_args[@]}" || status=$?

  # Keep the reports (TRX, screenshots) where a person and CI look for them.
  if [[ -d $clone/TestResults ]]; then
    mkdir -p "$repo/TestResults"
    for results in "$clone/TestResults"/*; do
      rm -rf "$repo/TestResults/$(basename "$results")"
      cp -R "$results" "$repo/TestResults/"
    done
  fi
  exit $status
fi

command -v dotnet >/dev/null || { echo "The .NET 10 SDK is required (https://dot.net)." >&2; exit 1; }

# --- Python with the 'cryptography' package (the independent JOSE signer in the tests) ---------
need_crypto_python   # scripts/lib/common.sh
export REGISTRY_TEST_PYTHON="$crypto_python"

# --- Node with the npm robots.txt parser (the policy tests' second, independent parser) --------
# The parser's own folder, not node_modules: an interrupted npm ci leaves node_modules without it.
if [[ ! -f "$repo/tests/policy-parsers/node_modules/robots-parser/package.json" ]]; then
  command -v npm >/dev/null || apt_install nodejs npm
  log "Installing the robots.txt parser for the policy tests"
  npm_ci() { (cd "$repo/tests/policy-parsers" && npm ci --no-audit --no-fund --silent --prefer-offline); }
  if ! npm_ci; then
    log "npm ci failed; trying once more in 10 s"
    sleep 10
    npm_ci
  fi
fi

# --- Debian's Chromium for the browser tests (Playwright drives it and never downloads one) -------
# --no-install-recommends skips Chromium's fonts; without them screenshots show empty boxes.
if [[ ! -x /usr/bin/chromium ]] || ! compgen -G "/usr/share/fonts/truetype/*/*.ttf" >/dev/null; then
  log "Installing Chromium and fonts for the browser tests"
  apt_install chromium fonts-liberation fonts-dejavu-core
fi

# --- PostgreSQL: start_postgres / stop_postgres / pg_port ----------------------------------------
# shellcheck source=scripts/lib/postgres.sh
source "$repo/scripts/lib/postgres.sh"

# --- Tests -------------------------------------------------------------------------------------
log "Building"
dotnet build ConsentRegistry.sln -c Release --nologo -v quiet

compose="$(command -v docker-compose || true)"
if [[ -n $compose ]] || docker compose version >/dev/null 2>&1; then
  log "Checking docker-compose.yml"
  if [[ -n $compose ]]; then "$compose" -f docker-compose.yml config -q; else docker compose -f docker-compose.yml config -q; fi
fi

# A run stopped by a signal is not a pass, whatever the reports written so far say (the EXIT
# trap of scripts/lib/postgres.sh still stops the cluster).
trap 'echo "Interrupted: the tests did not finish." >&2; exit 130' INT
trap 'echo "Terminated: the tests did not finish." >&2; exit 143' TERM

hang_timeout="${REGISTRY_TEST_HANG_TIMEOUT:-10m}"
status=0
for engine in "${engines[@]}"; do
  export REGISTRY_TEST_PROVIDER="$engine"
  if [[ $engine == postgres ]]; then
    start_postgres
    export REGISTRY_TEST_POSTGRES="$pg_connection_string"
  fi
  log "Testing on $engine"
  rm -rf "$repo/TestResults/$engine"
  # --blame-hang-timeout: a test host with no test starting or finishing for that long is killed
  # (no dump) and the test it was running is named, rather than the run going on to CI's limit.
  if ! dotnet test ConsentRegistry.sln -c Release --no-build --nologo \
      --blame-hang-timeout "$hang_timeout" --blame-hang-dump-type none \
      --logger "console;verbosity=normal" --logger trx --results-directory "$repo/TestResults/$engine" "${extra_args[@]}"; then
    echo "Tests FAILED on $engine" >&2
    status=1
  fi
  if [[ $engine == postgres ]]; then
    stop_postgres
  fi
done

# One closing line over both runs, counted from the TRX reports. Each engine must have selected
# tests (a filter that selects none on an engine fails; one that selects only tests of the other
# engine, skipped here, does not). A run without a filter must also have one report
# per test project and engine (a test host that died leaves none), and no report without a test.
# A test host killed mid-run (hang timeout, crash) counts the tests it had not finished as failed.
filtered=false
for arg in "${extra_args[@]}"; do
  case "$arg" in --filter|--filter=*|--filter:*|*TestCaseFilter*) filtered=true ;; esac
done
projects=$(find "$repo/tests" -mindepth 2 -maxdepth 2 -name '*.Tests.csproj' | wc -l)
python3 - "$repo/TestResults" "$projects" "$filtered" "${extra_args[*]}" "${engines[@]}" <<'PY' || status=1
import glob, os, sys, xml.etree.ElementTree as ET
NS = "{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}"
passed = failed = skipped = 0
failures = []
problems = []
expected = int(sys.argv[2])
filtered = sys.argv[3] == "true"
arguments = sys.argv[4]
for engine in sys.argv[5:]:
    reports = sorted(glob.glob(f"{sys.argv[1]}/{engine}/*.trx"))
    if not filtered and len(reports) < expected:
        problems.append(f"  {engine}: {len(reports)} reports for {expected} test projects (a test run stopped before it wrote its report)")
    engine_selected = 0
    for path in reports:
        root = ET.parse(path).getroot()
        summary = root.find(f"{NS}ResultSummary")
        counters = summary.find(f"{NS}Counters")
        report_passed = int(counters.get("passed", 0))
        report_failed = int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0))
        passed += report_passed
        failed += report_failed
        # A skipped test (another engine's only) counts in total but not in executed; notExecuted stays 0.
        report_total = int(counters.get("total", 0))
        skipped += max(report_total - int(counters.get("executed", 0)), int(counters.get("notExecuted", 0)))
        engine_selected += report_total
        if not filtered and report_total == 0:
            problems.append(f"  {engine}: {os.path.basename(path)} holds no test (a test project ran none)")
        for result in root.iter(f"{NS}UnitTestResult"):
            if result.get("outcome") not in ("Passed", "NotExecuted"):
                message = result.find(f"{NS}Output/{NS}ErrorInfo/{NS}Message")
                # The whole message on one line, cut long: a test's own diagnostics (logs it gathered)
                # come after its first line, and CI keeps only the log's tail.
                text = " ".join((message.text or "").split()) if message is not None else ""
                failures.append(f"  {engine}: {result.get('testName')}: {text[:1500]}")
        # A test host killed mid-run (blame's hang timeout, or a crash): the run is aborted and the
        # tests that had started but not finished are in blame's sequence file, marked Completed="False".
        infos = [(info.get("outcome"), (info.findtext(f"{NS}Text") or "").strip()) for info in summary.iter(f"{NS}RunInfo")]
        if any(outcome == "Error" and "aborted" in text.lower() for outcome, text in infos):
            reason = "; ".join(text.splitlines()[0] for _, text in infos if text)[:300]
            deployment = root.find(f"{NS}TestSettings/{NS}Deployment")
            base = os.path.join(os.path.dirname(path), deployment.get("runDeploymentRoot", "") if deployment is not None else "", "In")
            unfinished = []
            for attachment in summary.iter(f"{NS}A"):
                href = attachment.get("href", "")
                sequence = os.path.join(base, href)
                if os.path.basename(href).startswith("Sequence_") and os.path.isfile(sequence):
                    unfinished += [test.get("Name") for test in ET.parse(sequence).getroot().iter("Test") if test.get("Completed") == "False"]
            for name in unfinished or ["(no test named: the run was aborted)"]:
                failures.append(f"  {engine}: {name}: did not finish: {reason}")
            failed += max(1, len(unfinished))
            engine_selected += max(1, len(unfinished))
    if engine_selected == 0:
        if filtered:
            problems.append(f"  {engine}: no test ran: the filter selected none on this engine (dotnet test arguments: {arguments})")
        else:
            problems.append(f"  {engine}: no test ran")
# The failures are named again last, so that a log's tail (all CI keeps) says which failed and why.
if failures:
    print("\nFailed:\n" + "\n".join(failures))
if problems:
    print("\nIncomplete run:\n" + "\n".join(problems))
print(f"\n{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if problems or failed else 0)
PY

if [[ $status -eq 0 ]]; then log "All tests passed on: ${engines[*]}"; fi
exit $status

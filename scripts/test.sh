#!/usr/bin/env bash
# Runs every test twice: once on the embedded SQLite store, once on a throwaway PostgreSQL
# cluster (temporary directory, free port on 127.0.0.1, removed afterwards whatever happens).
# On a fresh Debian machine it installs what is missing (PostgreSQL) when run as root.
#
#   scripts/test.sh                 # both engines
#   scripts/test.sh sqlite          # one engine
#   scripts/test.sh postgres -- --filter "FullyQualifiedName~Claims"   # extra dotnet test arguments
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

engines=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    sqlite|postgres) engines+=("$1"); shift ;;
    --) shift; break ;;
    *) echo "usage: scripts/test.sh [sqlite] [postgres] [-- dotnet test arguments]" >&2; exit 2 ;;
  esac
done
[[ ${#engines[@]} -gt 0 ]] || engines=(sqlite postgres)
extra_args=("$@")

# shellcheck source=scripts/lib/common.sh
source "$repo/scripts/lib/common.sh"

command -v dotnet >/dev/null || { echo "The .NET 10 SDK is required (https://dot.net)." >&2; exit 1; }

# --- Python with the 'cryptography' package (the independent JOSE signer in the tests) ---------
find_python() {
  local candidate
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import cryptography' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}
if ! REGISTRY_TEST_PYTHON="$(find_python)"; then
  log "Installing Python's cryptography package"
  apt_install python3 python3-cryptography
  REGISTRY_TEST_PYTHON="$(find_python)" || { echo "No python3 with the cryptography package." >&2; exit 1; }
fi
export REGISTRY_TEST_PYTHON

# --- Node with the npm robots.txt parser (the policy tests' second, independent parser) --------
if [[ ! -d "$repo/tests/policy-parsers/node_modules" ]]; then
  command -v npm >/dev/null || apt_install nodejs npm
  log "Installing the robots.txt parser for the policy tests"
  (cd "$repo/tests/policy-parsers" && npm ci --no-audit --no-fund --silent)
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

status=0
for engine in "${engines[@]}"; do
  export REGISTRY_TEST_PROVIDER="$engine"
  if [[ $engine == postgres ]]; then
    start_postgres
    export REGISTRY_TEST_POSTGRES="$pg_connection_string"
  fi
  log "Testing on $engine"
  rm -rf "$repo/TestResults/$engine"
  if ! dotnet test ConsentRegistry.sln -c Release --no-build --nologo \
      --logger "console;verbosity=normal" --logger trx --results-directory "$repo/TestResults/$engine" "${extra_args[@]}"; then
    echo "Tests FAILED on $engine" >&2
    status=1
  fi
  if [[ $engine == postgres ]]; then
    stop_postgres
  fi
done

# One closing line over both runs, counted from the TRX reports.
python3 - "$repo/TestResults" "${engines[@]}" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in [p for engine in sys.argv[2:] for p in glob.glob(f"{sys.argv[1]}/{engine}/*.trx")]:
    counters = ET.parse(path).getroot().find("{*}ResultSummary/{*}Counters")
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0))
    skipped += int(counters.get("notExecuted", 0))
print(f"\n{passed} passed, {failed} failed, {skipped} skipped")
PY

if [[ $status -eq 0 ]]; then log "All tests passed on: ${engines[*]}"; fi
exit $status

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

log() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else echo "Need root to run: $*" >&2; return 1; fi
}

apt_updated=false
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "Missing $*, and this machine has no apt-get: install it by hand." >&2
    return 1
  fi
  if [[ $apt_updated == false ]]; then
    as_root apt-get update -qq
    apt_updated=true
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

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

# --- PostgreSQL --------------------------------------------------------------------------------
pg_bin=""
find_pg_bin() {
  local initdb
  initdb="$(command -v initdb || true)"
  if [[ -z $initdb ]]; then
    initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
  fi
  [[ -n $initdb ]] && pg_bin="$(dirname "$(readlink -f "$initdb")")"
}

pg_dir=""
pg_port=""
pg_user_run=()
cleanup() {
  if [[ -n $pg_dir && -d $pg_dir ]]; then
    "${pg_user_run[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
}
trap cleanup EXIT INT TERM

start_postgres() {
  find_pg_bin
  if [[ -z $pg_bin ]]; then
    log "Installing PostgreSQL (initdb not found)"
    apt_install postgresql
    find_pg_bin
  fi
  [[ -n $pg_bin ]] || { echo "initdb still not found after installing PostgreSQL." >&2; exit 1; }

  pg_dir="$(mktemp -d -t registry-pg.XXXXXX)"
  # PostgreSQL refuses to run as root: use the postgres system user (made by Debian's package).
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    chown postgres "$pg_dir"
    pg_user_run=(runuser -u postgres --)
  else
    pg_user_run=(env)
  fi
  pg_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"

  log "Starting a throwaway PostgreSQL cluster ($("$pg_bin/postgres" --version)) in $pg_dir on port $pg_port"
  "${pg_user_run[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$pg_dir/initdb.log" 2>&1 \
    || { cat "$pg_dir/initdb.log" >&2; exit 1; }
  "${pg_user_run[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$pg_dir -c max_connections=300 -c fsync=on" start >/dev/null \
    || { cat "$pg_dir/server.log" >&2; exit 1; }
}

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
    export REGISTRY_TEST_POSTGRES="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres"
  fi
  log "Testing on $engine"
  rm -rf "$repo/TestResults/$engine"
  if ! dotnet test ConsentRegistry.sln -c Release --no-build --nologo \
      --logger "console;verbosity=normal" --logger trx --results-directory "$repo/TestResults/$engine" "${extra_args[@]}"; then
    echo "Tests FAILED on $engine" >&2
    status=1
  fi
  if [[ $engine == postgres ]]; then
    cleanup
    pg_dir=""
  fi
done

# One closing line over both runs, counted from the TRX reports.
python3 - "$repo/TestResults" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in glob.glob(f"{sys.argv[1]}/*/*.trx"):
    counters = ET.parse(path).getroot().find("{*}ResultSummary/{*}Counters")
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0))
    skipped += int(counters.get("notExecuted", 0))
print(f"\n{passed} passed, {failed} failed, {skipped} skipped")
PY

if [[ $status -eq 0 ]]; then log "All tests passed on: ${engines[*]}"; fi
exit $status

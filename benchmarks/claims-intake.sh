#!/usr/bin/env bash
# Claim intake benchmark: starts the API (Release) on a fresh store over loopback, then posts
# pre-signed opt-out claims with the load generator: 1 subject per claim, then 10,000.
# Each measured run follows a warm-up run of the same shape. Durable commits throughout
# (SQLite synchronous=FULL in WAL mode; PostgreSQL fsync=on, synchronous_commit=on).
#
#   benchmarks/claims-intake.sh sqlite
#   benchmarks/claims-intake.sh postgres     # starts a throwaway PostgreSQL cluster
set -euo pipefail
engine="${1:-sqlite}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/common.sh
source scripts/lib/postgres.sh

dotnet build ConsentRegistry.sln -c Release --nologo -v quiet
work="$(mktemp -d -t registry-bench.XXXXXX)"
api_pid=""
finish() { [[ -n $api_pid ]] && kill "$api_pid" 2>/dev/null; stop_postgres; rm -rf "$work"; }
trap finish EXIT INT TERM

case "$engine" in
  sqlite) export Registry__Database__Provider=sqlite Registry__Database__ConnectionString="Data Source=$work/registry.db" ;;
  postgres)
    start_postgres
    export Registry__Database__Provider=postgres Registry__Database__ConnectionString="$pg_connection_string" ;;
  *) echo "usage: benchmarks/claims-intake.sh sqlite|postgres" >&2; exit 2 ;;
esac

port="$(free_port)"
Logging__LogLevel__Default=Warning dotnet src/ConsentRegistry.Api/bin/Release/net10.0/ConsentRegistry.Api.dll \
  --urls "http://127.0.0.1:$port" >"$work/api.log" 2>&1 &
api_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.2; done

loadgen() { dotnet benchmarks/ConsentRegistry.LoadGen/bin/Release/net10.0/ConsentRegistry.LoadGen.dll claims --target "http://127.0.0.1:$port" "$@"; }
log "$engine: warm-up"
loadgen --count 5000 --subjects 1 --concurrency 64 >/dev/null
loadgen --count 20 --subjects 10000 --concurrency 4 >/dev/null
log "$engine: 1 subject per claim"
loadgen --count 40000 --subjects 1 --concurrency 64
log "$engine: 10,000 subjects per claim"
loadgen --count 200 --subjects 10000 --concurrency 4
log "API resident memory: $(ps -o rss= -p "$api_pid" | awk '{printf "%.0f MiB", $1/1024}')"

#!/usr/bin/env bash
# Scale benchmark: the service at N subjects. Starts the API (Release) on a fresh store and
# registers N subjects in 10,000-subject claims: 97 % the load generator's LAION-like universe
# (90 % url, 5 % url-prefix, 5 % host of it), 2 % SHA-256 and 1 % PDQ hashes. Then:
#   1. restarts the API and times its way to /health/ready from the store (the whole log);
#   2. lets it write an index snapshot and reports the snapshot's size and write time;
#   3. restarts it again and times its way to ready from that snapshot;
#   4. checks and times bulk lookups (batch, the NDJSON stream) and the 1,000-URL p99 beside a
#      150,000 URLs/s load, with the server's resident memory;
#   5. stops the API and builds the same index in a separate process for its bytes by kind.
# Compare with the same script at 1,000,000 (docs/scale.md has both).
#
#   benchmarks/scale.sh sqlite|postgres [subjects] [seconds per lookup run]
#
# Needs disk for the store (about 2 GB per 10 million subjects on SQLite) and, at 100 million
# subjects, about 8 GB of memory for the API and the in-process build at its end (not at once).
set -euo pipefail
engine="${1:-sqlite}"
subjects="${2:-10000000}"
seconds="${3:-20}"
usage="benchmarks/scale.sh sqlite|postgres [subjects] [seconds per lookup run]"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/benchmark.sh

sha256=$(( subjects / 50 ))
pdq=$(( subjects / 100 ))
universe=$(( subjects - sha256 - pdq ))

bench_setup "$engine"
export Registry__Lookup__RequestsPerSecondPerAddress=100000 Registry__Lookup__ImageSearchesPerSecondPerAddress=10000000 Logging__LogLevel__Default=Warning Registry__WriteBudgets__Enabled=false
# Information from the index and snapshot writers: their lines carry the times reported below
# (category names have dots, which environment variable names cannot, so on the command line).
start_api() {
  dotnet src/ConsentRegistry.Api/bin/Release/net10.0/ConsentRegistry.Api.dll --urls "$target" \
    --Logging:LogLevel:ConsentRegistry.Api.Matching.IndexUpdater=Information \
    --Logging:LogLevel:ConsentRegistry.Api.Snapshots=Information >>"$work/api.log" 2>&1 &
  api_pid=$!
}
export Registry__Snapshots__Path="$work/snapshots" Registry__Snapshots__CheckInterval=00:00:01
export Registry__Snapshots__EveryLogEntries=1000000000   # none while seeding

restart_api() { kill "$api_pid"; wait "$api_pid" 2>/dev/null || true; : >"$work/api.log"; start_api; }
rss() { ps -o rss= -p "$api_pid" | awk '{printf "%.0f MiB", $1/1024}'; }
millis_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

start_api
wait_ready 1800
log "$engine: registering $subjects subjects ($universe in the universe, $sha256 sha256, $pdq pdq)"
loadgen seed --target "$target" --subjects "$universe" --sha256 "$sha256" --pdq "$pdq"
case "$engine" in
  sqlite) log "store on disk: $(du -sm "$work"/registry.db* | awk '{s+=$1} END {print s}') MiB (registry.db with its WAL)" ;;
  postgres) log "store on disk: $(du -sm "$pg_dir/data" | cut -f1) MiB (the cluster's data folder, WAL included)" ;;
esac

log "$engine: restarting on the seeded store (no snapshot yet)"
export Registry__Snapshots__EveryLogEntries=1   # the first check after ready writes one
restart_api
started=$(date +%s%N)
wait_ready 1800
log "ready from the store after $(millis_since "$started") ms (process start included); RSS $(rss)"
grep -h "Matching index ready" "$work/api.log" | tail -1 | sed 's/^ *//'

for _ in $(seq 3600); do curl -sf "$target/v1/snapshots/latest" >/dev/null && break; sleep 0.1; done
grep -h "Wrote index snapshot" "$work/api.log" | tail -1 | sed 's/^ *//'
log "snapshot on disk: $(du -sm "$work/snapshots" | cut -f1) MiB; RSS after writing it $(rss)"

log "$engine: restarting from the snapshot"
export Registry__Snapshots__EveryLogEntries=1000000000
restart_api
started=$(date +%s%N)
wait_ready 1800
log "ready from the snapshot after $(millis_since "$started") ms (process start included); RSS $(rss)"
grep -h "Loaded index snapshot\|Matching index ready" "$work/api.log" | sed 's/^ *//'

loadgen lookup --target "$target" --subjects "$universe" --endpoint batch --concurrency 2 --seconds "$seconds" --server-pid "$api_pid"
log "$engine: 1,000-URL batch latency beside 10,000-URL batches paced at 150,000 URLs/s"
loadgen lookup --target "$target" --subjects "$universe" --endpoint batch --concurrency 4 --rate 150000 --seconds "$seconds" --server-pid "$api_pid"
loadgen lookup --target "$target" --subjects "$universe" --endpoint stream --concurrency 2 --seconds "$seconds" --server-pid "$api_pid"

log "index alone, built in a separate process (bytes by kind)"
kill "$api_pid"; wait "$api_pid" 2>/dev/null || true; api_pid=""
loadgen index-memory --subjects "$universe" --sha256 "$sha256" --pdq "$pdq" --lookup-seconds 5

#!/usr/bin/env bash
# Bulk lookup benchmark: starts the API (Release) on a fresh store, registers N subjects of the
# load generator's LAION-like universe (default 1,000,000: 90 % url, 5 % url-prefix, 5 % host),
# restarts the API and times its way to /health/ready (the index build from the store), then
# checks and times /v1/lookup, /api/v2/query/urls and /v1/lookup/stream over loopback.
# Finally builds the same index in a separate process to report its bytes per subject.
#
#   benchmarks/lookup.sh sqlite [subjects] [seconds per endpoint]
#   benchmarks/lookup.sh postgres            # starts a throwaway PostgreSQL cluster
#   LONG_STREAM_SECONDS=600 benchmarks/lookup.sh sqlite   # a longer single stream (default 120 s)
#
# Lookups are anonymous; the per-address rate limit is raised for the run (a benchmark client is
# one address sending hundreds of requests a second).
set -euo pipefail
engine="${1:-sqlite}"
subjects="${2:-1000000}"
seconds="${3:-20}"
long_stream="${LONG_STREAM_SECONDS:-120}"   # one stream this long, to watch the server's memory
usage="benchmarks/lookup.sh sqlite|postgres [subjects] [seconds]"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/benchmark.sh

bench_setup "$engine"
# The claims planted for the lookups come from one loopback client, past the default write budgets.
export Registry__Lookup__RequestsPerSecondPerAddress=100000 Logging__LogLevel__Default=Warning Registry__WriteBudgets__Enabled=false

start_api
wait_ready
log "$engine: registering $subjects subjects"
loadgen seed --target "$target" --subjects "$subjects"

log "$engine: restarting the API on the seeded store"
kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
started=$(date +%s%N)
start_api
wait_ready
log "ready after $(( ($(date +%s%N) - started) / 1000000 )) ms (process start, migrations check, index build from the store)"
log "API resident memory after the build: $(ps -o rss= -p "$api_pid" | awk '{printf "%.0f MiB", $1/1024}')"

loadgen lookup --target "$target" --subjects "$subjects" --endpoint batch --concurrency 2 --seconds "$seconds" --server-pid "$api_pid"
log "$engine: 1,000-URL batch latency under the goal's load (10,000-URL batches paced at 150,000 URLs/s)"
loadgen lookup --target "$target" --subjects "$subjects" --endpoint batch --concurrency 4 --rate 150000 --seconds "$seconds" --server-pid "$api_pid"
loadgen lookup --target "$target" --subjects "$subjects" --endpoint spawning --concurrency 2 --seconds "$seconds" --server-pid "$api_pid"
loadgen lookup --target "$target" --subjects "$subjects" --endpoint stream --concurrency 2 --seconds "$seconds" --server-pid "$api_pid"
log "$engine: one stream for $long_stream s (server memory every 5 s)"
loadgen lookup --target "$target" --subjects "$subjects" --endpoint stream --concurrency 1 --seconds "$long_stream" --server-pid "$api_pid"

log "index alone, built in a separate process"
loadgen index-memory --subjects "$subjects"

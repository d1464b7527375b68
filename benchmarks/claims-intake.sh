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
usage="benchmarks/claims-intake.sh sqlite|postgres"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/benchmark.sh

bench_setup "$engine"
# Throughput, not abuse: one loopback client writes millions of subjects, far past the default
# write budgets (benchmarks/abuse.sh runs with them).
export Logging__LogLevel__Default=Warning Registry__WriteBudgets__Enabled=false
start_api
wait_ready

log "$engine: warm-up"
loadgen claims --target "$target" --count 5000 --subjects 1 --concurrency 64 >/dev/null
loadgen claims --target "$target" --count 20 --subjects 10000 --concurrency 4 >/dev/null
log "$engine: 1 subject per claim"
loadgen claims --target "$target" --count 40000 --subjects 1 --concurrency 64
log "$engine: 10,000 subjects per claim (store $(store_size))"
loadgen claims --target "$target" --count 200 --subjects 10000 --concurrency 4
log "API resident memory: $(ps -o rss= -p "$api_pid" | awk '{printf "%.0f MiB", $1/1024}'); store $(store_size)"

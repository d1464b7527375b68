#!/usr/bin/env bash
# The consent-registry command's benchmark (figures in docs/benchmarks.md):
#   1. filter --snapshot: a 10-million-subject snapshot of the load generator's LAION-like
#      universe, and a LAION-like Parquet (SAMPLE_ID, URL, TEXT, HEIGHT, WIDTH, similarity) of
#      <rows> rows whose URLs come from it (half registered, far more than real data; then 5 %);
#   2. filter --registry: the same kind of input against the API (Release, SQLite) holding
#      1 million subjects (2 million rows, then <memory rows> rows);
#   3. peak memory: filter --snapshot on a <memory rows>-row file (100,000-row row groups), half
#      and then 5 % of its rows registered.
# Before 1., the floor: ParquetSharp (the filter's library) reading the file, and reading and rewriting it, on one thread.
# Each run's wall time and peak resident memory come from /usr/bin/time.
#
#   benchmarks/cli.sh [rows (default 5,000,000)] [memory rows (default 20,000,000)]
#
# Needs about 3 GB of disk at the defaults (a 20-million-row input is 1.5 GB, its output as much).
set -euo pipefail
rows="${1:-5000000}"
memory_rows="${2:-20000000}"
usage="benchmarks/cli.sh [rows] [memory rows]"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/benchmark.sh
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 2; }

bench_setup sqlite
export Registry__Lookup__RequestsPerSecondPerAddress=100000 Registry__Lookup__ImageSearchesPerSecondPerAddress=10000000 Logging__LogLevel__Default=Warning Registry__WriteBudgets__Enabled=false
cli=(dotnet src/ConsentRegistry.Cli/bin/Release/net10.0/consent-registry.dll)

# Runs the command given, then reports its rows per second (of <n> rows) and peak memory.
timed() {
  local label="$1" n="$2"; shift 2
  /usr/bin/time -f "%e %M" -o "$work/time" "$@"
  read -r seconds kilobytes <"$work/time"
  log "$label: $n rows in $seconds s: $(awk -v n="$n" -v s="$seconds" 'BEGIN {printf "%.0f", n / s}') rows/s; peak resident memory $(( kilobytes / 1024 )) MiB"
}

log "making a 10,000,000-subject snapshot and a $rows-row LAION-like file from its universe"
loadgen index-memory --subjects 10000000 --lookup-seconds 1 --snapshot "$work/u10m.snap" | grep -E '^(index|snapshot):'
mkdir -p "$work/in"
loadgen laion-parquet --subjects 10000000 --rows "$rows" --out "$work/in/laion.parquet"
loadgen parquet-copy --file "$work/in/laion.parquet"
timed "filter --snapshot (10 M subjects)" "$rows" "${cli[@]}" filter "$work/in/laion.parquet" --out "$work/out-snapshot" --snapshot "$work/u10m.snap" -q
timed "filter --snapshot --removed" "$rows" "${cli[@]}" filter "$work/in/laion.parquet" --out "$work/out-removed" --snapshot "$work/u10m.snap" --removed -q
rm -rf "$work/out-snapshot" "$work/out-removed"
loadgen laion-parquet --subjects 10000000 --rows "$rows" --registered-percent 5 --out "$work/in/laion-5.parquet"
timed "filter --snapshot, 5 % of the rows registered" "$rows" "${cli[@]}" filter "$work/in/laion-5.parquet" --out "$work/out-5" --snapshot "$work/u10m.snap" -q
rm -rf "$work/out-5" "$work/in/laion-5.parquet"

log "registry: 1,000,000 subjects on SQLite"
start_api
wait_ready 120
loadgen seed --target "$target" --subjects 1000000 >/dev/null
online_rows=$(( rows < 2000000 ? rows : 2000000 ))
loadgen laion-parquet --subjects 1000000 --rows "$online_rows" --out "$work/in/online.parquet"
timed "filter --registry (1 M subjects, loopback)" "$online_rows" "${cli[@]}" filter "$work/in/online.parquet" --out "$work/out-online" --registry "$target" -q
rm -rf "$work/out-online" "$work/in/laion.parquet" "$work/in/online.parquet"
loadgen laion-parquet --subjects 1000000 --rows "$memory_rows" --out "$work/in/online-big.parquet"
timed "filter --registry, $memory_rows rows" "$memory_rows" "${cli[@]}" filter "$work/in/online-big.parquet" --out "$work/out-online-big" --registry "$target" -q
kill "$api_pid"; wait "$api_pid" 2>/dev/null || true; api_pid=""
rm -rf "$work/out-online-big" "$work/in/online-big.parquet"

log "memory: $memory_rows rows"
loadgen laion-parquet --subjects 10000000 --rows "$memory_rows" --out "$work/in/big.parquet"
timed "filter --snapshot, $memory_rows rows" "$memory_rows" "${cli[@]}" filter "$work/in/big.parquet" --out "$work/out-big" --snapshot "$work/u10m.snap" -q
rm -rf "$work/out-big" "$work/in/big.parquet"
# Real data has few registered URLs: almost every row is kept and written, which needs more memory.
loadgen laion-parquet --subjects 10000000 --rows "$memory_rows" --registered-percent 5 --out "$work/in/big-5.parquet"
timed "filter --snapshot, $memory_rows rows, 5 % registered" "$memory_rows" "${cli[@]}" filter "$work/in/big-5.parquet" --out "$work/out-big-5" --snapshot "$work/u10m.snap" -q
log "nproc $(nproc), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"

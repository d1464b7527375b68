#!/usr/bin/env bash
# Abuse benchmark: starts the API (Release) with its default budgets on a fresh store and runs,
# on loopback, the attacks the registry must bound, each beside well-behaved clients (artists, each
# a 20-URL claim every 3 s from its own address, ten by default, so that a 30 s phase gives about 100
# claims; a dataset builder's 10,000-URL lookup batches at 150,000 URLs/s), whose p99 must stay
# within 2× of an unloaded run and who must get no 429:
#   1. claim flood: two addresses, four connections each, posting 10,000-subject claims (fresh keys,
#      sometimes one key) for 30 s
#   2. match amplification: 2,000 one-subject host claims on one host from 2,000 keys and 20
#      addresses, then 10,000-URL /api/v2/query/urls and 1,000-URL /v1/lookup batches on that host
#   3. policy re-renders: N subjects on one host (an API key with a large budget), robots.txt
#      first and served, then (tiny claim, GET robots.txt) for 30 s: renders, CPU
#   4. image bombs: benchmarks/images-rss.sh (its own server): RSS after the set and 30 s later
#   5. PDQ lookup flood: PDQ_HASHES (1,000,000) hashes claimed, then for 30 s two anonymous
#      addresses × 4 connections send 10,000-hash /v1/lookup batches, resending at once: searches
#      answered (bounded by the addresses' pace), server CPU (runs before the image bombs)
# Rotating IPv6 addresses cannot be shown on loopback (one ::1): the API tests send writes from
# several addresses of one /64 and of another (WriteBudgetTests).
#
#   benchmarks/abuse.sh [sqlite|postgres]                      # policy phase at 300,000 subjects
#   POLICY_SUBJECTS=3000000 benchmarks/abuse.sh sqlite         # the full 3 M figure
#   PHASES="policy" benchmarks/abuse.sh sqlite                 # some phases only (baseline always runs;
#                                                              # flood amplify policy pdq images)
#   PHASES="burst" BURSTS=20 benchmarks/abuse.sh sqlite        # not a verdict: the flood's opening burst
#                                                              # N times, the artist's claim sent with each
#   ARTISTS=1 benchmarks/abuse.sh sqlite                       # one artist, as before (p99 = the slowest claim)
#   ATTACKERS_NICE=10 benchmarks/abuse.sh sqlite               # the flood's attackers in a process of their
#                                                              # own at nice 10, as if on other machines
set -euo pipefail
engine="${1:-sqlite}"
policy_subjects="${POLICY_SUBJECTS:-300000}"
usage="benchmarks/abuse.sh [sqlite|postgres]"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/benchmark.sh

bench_setup "$engine"
dotnet build benchmarks/ConsentRegistry.LoadGen -c Release --nologo -v quiet
admin_key="abuse-benchmark-admin-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
# Default settings but for the bootstrap admin key (to create the policy phase's platform key).
export Registry__Auth__AdminKey="$admin_key" Logging__LogLevel__Default=Warning
start_api
wait_ready

phases="${PHASES:-flood amplify policy pdq images}"
wants() { [[ " $phases " == *" $1 "* ]]; }
phase() {
  loadgen abuse --phase "$1" --target "$target" --server-pid "$api_pid" --admin-key "$admin_key" --artists "${ARTISTS:-10}" "${@:2}"
}

status=0
log "$engine: well-behaved clients alone (30 s)"
phase baseline --seconds 30 || status=1
if wants flood; then
  log "$engine: 1. claim flood (store $(store_size))"
  phase flood --seconds 30 --attackers-nice "${ATTACKERS_NICE:-0}" || status=1
  log "$engine: store after the flood: $(store_size)"
fi
if wants burst; then
  log "$engine: the flood's opening burst, ${BURSTS:-20} times"
  phase burst --trials "${BURSTS:-20}" || status=1
fi
if wants amplify; then
  log "$engine: 2. match amplification"
  phase amplify || status=1
fi
if wants policy; then
  log "$engine: 3. policy re-renders at $policy_subjects subjects"
  phase policy --seconds 30 --policy-subjects "$policy_subjects" || status=1
fi
if wants pdq; then
  log "$engine: 5. PDQ lookup flood at ${PDQ_HASHES:-1000000} hashes"
  phase pdq --seconds 30 --pdq-hashes "${PDQ_HASHES:-1000000}" || status=1
fi
log "$engine: store at the end: $(store_size); API RSS $(ps -o rss= -p "$api_pid" | awk '{printf "%.0f MiB", $1/1024}')"
bench_finish
trap - EXIT INT TERM

wants images || exit "$status"
log "4. image bombs (benchmarks/images-rss.sh 20 4 30, its own server on SQLite)"
# Under set -e a failing images-rss.sh (or a grep that finds nothing) would end this script with
# its output unseen: its status is kept, and a failure shows the end of its output.
images_status=0
images="$(benchmarks/images-rss.sh 20 4 30 2>&1)" || images_status=$?
echo "$images" | grep -E "==>|status|uploads" || true
after="$(grep -o 'RSS right after the burst: [0-9]*' <<<"$images" | grep -o '[0-9]*$' || true)"
idle="$(grep -o 'RSS after 30 s idle: [0-9]*' <<<"$images" | grep -o '[0-9]*$' || true)"
if [[ $images_status -ne 0 ]]; then
  echo "  FAIL image bombs: benchmarks/images-rss.sh exited with status $images_status; the end of its output:"
  tail -n 40 <<<"$images" | sed 's/^/    /'
  status=1
elif [[ -n $after && -n $idle && $after -le 600 && $idle -lt 400 ]]; then
  echo "  PASS image bombs: RSS $after MiB after the set (≤ 600), $idle MiB 30 s later (< 400)"
else
  echo "  FAIL image bombs: RSS ${after:-?} MiB after the set (≤ 600), ${idle:-?} MiB 30 s later (< 400)"
  status=1
fi
exit "$status"

#!/usr/bin/env bash
# Fetch-and-fingerprint throughput: starts the API (Release) with its fingerprint worker on a fresh
# store, serves a folder of images from a local HTTP server, posts one claim naming all of them,
# and reports how many images a second the worker fetched, decoded, hashed (SHA-256, PDQ with its
# dihedral variants) and embedded, from the claim's 201 to the last settled URL.
#
#   benchmarks/fingerprint.sh [sqlite|postgres] [images] [clipart|photos] [stalled]     # default sqlite 600 clipart 0
#
# stalled: first post another claim of that many URLs on one host (127.0.0.100) that accepts
# connections and never answers, as a slow or hostile site does; its fetches each wait out the
# fetch timeout (10 s). The figure is then the other images' while that host's jobs are queued,
# and the run stops polling after 120 s, reporting how many were done by then.
#
# clipart: openclipart-png illustrations (PNG; the first 600 are 30 KB on average); photos: the wallpaper packages'
# photographs (JPEG and PNG, 1920x1080 and up), repeated under new names to make the count. The
# URLs are spread over 16 loopback addresses (127.0.0.1 to 127.0.0.16), as a dataset's images
# are spread over many hosts: the worker asks at most 2 at a time of any one host.
set -euo pipefail
engine="${1:-sqlite}"
count="${2:-600}"
source_kind="${3:-clipart}"
stalled="${4:-0}"
usage="benchmarks/fingerprint.sh [sqlite|postgres] [images] [clipart|photos] [stalled]"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/benchmark.sh

case "$source_kind" in
  clipart) package=openclipart-png; folder=/usr/share/openclipart/png; pattern='*.png' ;;
  photos) package=ukui-wallpapers; folder=/usr/share/backgrounds; pattern='*' ;;
  *) echo "usage: $usage" >&2; exit 2 ;;
esac
dpkg -s "$package" >/dev/null 2>&1 || { log "Installing $package"; apt_install "$package"; }
need_crypto_python   # scripts/sign-claim.py signs the claim: a python3 with 'cryptography' (common.sh)

bench_setup "$engine"
export Registry__Worker__Enabled=true Registry__Fetch__AllowPrivateAddresses=true Registry__Fetch__AllowInsecureHttp=true Registry__Fetch__AllowAnyPort=true \
  Registry__Embedding__LoadAtStart=true Logging__LogLevel__Default=Warning

log "Serving $count $source_kind images from $work/images"
mkdir -p "$work/images"
mapfile -t sources < <(find "$folder" -type f -name "$pattern" | sort)
for ((i = 0; i < count; i++)); do
  src="${sources[i % ${#sources[@]}]}"
  ln -s "$src" "$work/images/$(printf '%05d' "$i").${src##*.}"
done
du -shL "$work/images" | awk '{print "  " $1 " in all"}'
serve_images "$work/images" ""

start_api
wait_ready
# The model loads in the background at start: wait for it, so that the figure is the worker's alone.
for _ in $(seq 600); do curl -s "$target/health/ready" | grep -q 'loads at its first image' || break; sleep 0.1; done

urls=()
i=0
for f in "$work"/images/*; do
  urls+=(--url "http://127.0.0.$((i % 16 + 1)):$image_port/${f##*/}")
  i=$((i + 1))
done
"$crypto_python" scripts/sign-claim.py --key "$work/key.pem" "${urls[@]}" --usage train-ai=n > "$work/claim.jws"
claim=$(python3 -c "import hashlib,sys;print(hashlib.sha256(open(sys.argv[1]).read().strip().encode()).hexdigest())" "$work/claim.jws")
cpu() { awk '{print $14 + $15}' "/proc/$api_pid/stat"; }

deadline=""
if (( stalled > 0 )); then
  stalled_port="$(free_port)"
  # Accepts every connection and holds it, answering nothing.
  python3 -c '
import socket, sys
server = socket.create_server(("127.0.0.100", int(sys.argv[1])))
held = []
while True:
    held.append(server.accept()[0])
' "$stalled_port" >"$work/stalled.log" 2>&1 &
  stalled_pid=$!
  trap 'kill "$stalled_pid" 2>/dev/null || true; bench_finish' EXIT
  stalled_urls=()
  for ((i = 0; i < stalled; i++)); do stalled_urls+=(--url "http://127.0.0.100:$stalled_port/stalled/$i.jpg"); done
  "$crypto_python" scripts/sign-claim.py --key "$work/key.pem" "${stalled_urls[@]}" --usage train-ai=n > "$work/stalled.jws"
  log "Posting a claim of $stalled urls on a host that never answers, first"
  curl -sf -o /dev/null -X POST "$target/v1/claims" -H 'Content-Type: application/jose' --data-binary @"$work/stalled.jws"
  sleep 2 # its jobs are queued, and taken, before the measured claim's
  deadline=$(( $(date +%s) + 120 ))
fi

log "Posting one claim of $count urls; the worker starts at once"
cpu_before=$(cpu)
started=$(date +%s%N)
curl -sf -o /dev/null -X POST "$target/v1/claims" -H 'Content-Type: application/jose' --data-binary @"$work/claim.jws"
# Polled once a second with grep: the poll itself must not take CPU from the worker.
while sleep 1; do
  curl -s "$target/v1/claims/$claim/fingerprints" > "$work/fingerprints.json"
  grep -q '"status":"pending"' "$work/fingerprints.json" || break
  if [[ -n $deadline ]] && (( $(date +%s) >= deadline )); then echo "  stopped polling after 120 s" ; break; fi
done
done=$( (grep -o '"status":"done"' "$work/fingerprints.json" || true) | wc -l)
failed=$( (grep -o '"status":"failed"' "$work/fingerprints.json" || true) | wc -l)
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
cpu_s=$(awk -v t=$(( $(cpu) - cpu_before )) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz}')
rss=$(ps -o rss= -p "$api_pid" | awk '{printf "%.0f", $1/1024}')

log "Fingerprinted $count $source_kind images ($engine): $done done, $failed failed in $(awk -v ms=$elapsed_ms 'BEGIN {printf "%.1f", ms / 1000}') s"
awk -v n="$done" -v ms="$elapsed_ms" 'BEGIN {printf "  %.1f images/s\n", n * 1000 / ms}'
echo "  server CPU: $cpu_s s; RSS after: $rss MiB"
curl -s "$target/metrics" | awk '
  /^registry_worker_(fetch|fingerprint)_duration_seconds_(sum|count)/ { split($1, name, "{"); value[name[1]] = $2 }
  END {
    split("fetch fingerprint", stages, " ")
    for (i = 1; i <= 2; i++) {
      base = "registry_worker_" stages[i] "_duration_seconds"
      if (value[base "_count"] > 0) printf "  mean %s: %.1f ms\n", stages[i], 1000 * value[base "_sum"] / value[base "_count"]
    }
  }'
[[ $failed -eq 0 ]] || { echo "  some fetches failed; the API's log:" >&2; tail -20 "$work/api.log" >&2; }

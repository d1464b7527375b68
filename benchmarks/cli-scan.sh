#!/usr/bin/env bash
# consent-registry scan throughput: makes img2dataset-style output from 1000x1000 JPEGs (windows of
# the ukui-wallpapers photographs; two folder shards and one webdataset tar), starts the API (Release) on a fresh SQLite store,
# scans the output online against it with --quiet, and prints images a second, exact decoding
# (the reference PDQ hash), --fast, and both again with --embeddings (the bundled ResNet18 on the
# CPU). Decoding, hashing and embedding are the cost: the store is empty, so each lookup is one
# cheap probe of the index.
#
#   benchmarks/cli-scan.sh [images] [threads]     # default 300, one per core
set -euo pipefail
count="${1:-300}"
threads="${2:-$(nproc)}"
usage="benchmarks/cli-scan.sh [images] [threads]"
[[ $count =~ ^[0-9]+$ && $count -ge 3 && $threads =~ ^[0-9]+$ ]] || { echo "usage: $usage" >&2; exit 2; }
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/benchmark.sh

log "Building the API and the command (Release)"
dotnet build src/ConsentRegistry.Api -c Release --nologo -v quiet
dotnet build src/ConsentRegistry.Cli -c Release --nologo -v quiet
work="$(mktemp -d -t registry-bench.XXXXXX)"
api_pid=""
bench_traps
export Registry__Database__Provider=sqlite Registry__Database__ConnectionString="Data Source=$work/registry.db" \
  Registry__Worker__Enabled=false Registry__Lookup__RequestsPerSecondPerAddress=100000 Registry__Lookup__ImageSearchesPerSecondPerAddress=10000000 Logging__LogLevel__Default=Warning
port="$(free_port)"
target="http://127.0.0.1:$port"
start_api

# Photographs: windows of the wallpaper package's pictures (generated images decode faster).
dpkg -s ukui-wallpapers >/dev/null 2>&1 || { log "Installing ukui-wallpapers"; apt_install ukui-wallpapers; }
log "Making $count 1000x1000 JPEGs from photographs as img2dataset output (shards 00000/, 00001/, 00002.tar)"
dotnet run benchmarks/cli-scan/make-images.cs -- "$work/made" "$count" /usr/share/backgrounds
out="$work/images"
mkdir -p "$out"
per_shard=$(( (count + 2) / 3 ))
i=0
for made in "$work"/made/*.jpg; do
  shard="$(printf '%05d' $(( i / per_shard )))"
  key="$(printf '%09d' "$i")"
  mkdir -p "$out/$shard"
  mv "$made" "$out/$shard/$key.jpg"
  printf '{"url": "https://images.example/%s.jpg", "key": "%s", "status": "success", "caption": "generated"}' "$key" "$key" >"$out/$shard/$key.json"
  printf 'generated' >"$out/$shard/$key.txt"
  i=$(( i + 1 ))
done
# The last shard as webdataset writes it: the same members in a tar, the folder gone.
(cd "$out/00002" && tar -cf ../00002.tar $(ls | sort))
rm -rf "$out/00002"
wait_ready

scan() {
  local started ended
  started=$(date +%s.%N)
  dotnet src/ConsentRegistry.Cli/bin/Release/net10.0/consent-registry.dll scan "$out" --registry "$target" --threads "$threads" --quiet "$@"
  ended=$(date +%s.%N)
  python3 -c "import sys; n, s = int(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2]); print(f'{n} images in {s:.2f} s: {n / s:.1f} images/s')" "$count" "$started" "$ended"
}

log "Scanning (exact decoding, $threads threads on $(nproc) cores)"
scan
log "Scanning again with --fast"
scan --fast
log "Scanning with --embeddings (exact decoding, then --fast)"
scan --embeddings
scan --embeddings --fast
python3 -c "import json, sys; t = json.load(open(sys.argv[1]))['totals']; print(f\"summary: {t['images']} images, {t['excluded']} excluded, {t['undecodable']} undecodable\")" "$out/scan-summary.json"

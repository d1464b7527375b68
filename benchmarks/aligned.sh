#!/usr/bin/env bash
# Aligned verification in the service, end to end: starts the API (Release) with its worker on a fresh
# store, serves the near-duplicate set (benchmarks/.neardup, built by benchmarks/neardup.sh) from a local
# HTTP server, and has one party claim each original and another party claim each edit of one kind, one
# claim a picture. The worker fingerprints them all; the pair recorder pairs what PDQ and the embedding
# find and proposes aligned verifications for the rest; the worker verifies them. Reports how many edits
# ended paired with their own original (and by what), how many with another original, how many checks
# ran, and how long the edits' fingerprints and then the checks took from the first edit's claim.
#
#   benchmarks/aligned.sh [sqlite|postgres] [kind] [count]     # default sqlite crop 150
#
# kind: one of the set's edits (crop, caption-border, watermark, colour-blur, small-jpeg, mirror-crop,
# screenshot, rotate).
set -euo pipefail
engine="${1:-sqlite}"
kind="${2:-crop}"
count="${3:-150}"
usage="benchmarks/aligned.sh [sqlite|postgres] [kind] [count]"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/benchmark.sh

set_folder="$repo/benchmarks/.neardup"
[[ -f $set_folder/manifest.json ]] || { echo "No near-duplicate set in $set_folder: run benchmarks/neardup.sh first." >&2; exit 2; }
need_crypto_python   # scripts/sign-claim.py signs the claims: a python3 with 'cryptography' (common.sh)

bench_setup "$engine"
export Registry__Worker__Enabled=true Registry__Fetch__AllowPrivateAddresses=true Registry__Fetch__AllowInsecureHttp=true Registry__Fetch__AllowAnyPort=true \
  Registry__Embedding__LoadAtStart=true Registry__WriteBudgets__Enabled=false Logging__LogLevel__Default=Warning

# The pairs to claim: original i by the artist, its edit of the kind by the platform.
python3 - "$set_folder" "$kind" "$count" > "$work/pairs.tsv" <<'PYEOF'
import json, os, sys
folder, kind, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
manifest = json.load(open(f"{folder}/manifest.json"))
edits = [e for e in manifest["Edits"] if e["Kind"] == kind][:count]
if not edits:
    sys.exit(f"no edits of kind {kind}")
for e in edits:
    print(os.path.relpath(e["Original"], folder), os.path.relpath(e["Path"], folder), sep="\t")
PYEOF
pairs=$(wc -l < "$work/pairs.tsv")

serve_images "$set_folder" manifest.json

start_api
wait_ready
for _ in $(seq 600); do curl -s "$target/health/ready" | grep -q 'loads at its first image' || break; sleep 0.1; done

# URLs spread over 16 loopback addresses, as a dataset's pictures are spread over hosts.
url() { echo "http://127.0.0.$(( $2 % 16 + 1 )):$image_port/$1"; }
claim_id() { python3 -c "import hashlib,sys;print(hashlib.sha256(sys.stdin.read().strip().encode()).hexdigest())"; }
post() { curl -sf -o /dev/null -X POST "$target/v1/claims" -H 'Content-Type: application/jose' --data-binary @"$1"; }
settle() {
  local body
  while sleep 1; do
    body=$(curl -s "$target/v1/claims/$1/fingerprints")
    [[ $body == *'"status":"pending"'* ]] || break
  done
}

log "Claiming $pairs originals (one claim each, train-ai=n) and their $kind edits (train-ai=y) as two parties"
i=0
: > "$work/claims.tsv"
while IFS=$'\t' read -r original edit; do
  "$crypto_python" scripts/sign-claim.py --key "$work/artist.pem" --url "$(url "$original" "$i")" --usage train-ai=n > "$work/a.jws"
  "$crypto_python" scripts/sign-claim.py --key "$work/platform.pem" --url "$(url "$edit" "$((i + 7))")" --usage train-ai=y > "$work/b.jws"
  printf '%s\t%s\n' "$(claim_id < "$work/a.jws")" "$(claim_id < "$work/b.jws")" >> "$work/claims.tsv"
  cp "$work/a.jws" "$work/a-$i.jws"; cp "$work/b.jws" "$work/b-$i.jws"
  i=$((i + 1))
done < "$work/pairs.tsv"
for ((k = 0; k < i; k++)); do post "$work/a-$k.jws"; done
settle "$(tail -n 1 "$work/claims.tsv" | cut -f1)"
cpu() { awk '{print $14 + $15}' "/proc/$api_pid/stat"; }
started=$(date +%s%N)
cpu_before=$(cpu)
for ((k = 0; k < i; k++)); do post "$work/b-$k.jws"; done
settle "$(tail -n 1 "$work/claims.tsv" | cut -f2)"
fingerprinted_ms=$(( ($(date +%s%N) - started) / 1000000 ))

# The store's count of checks: all of them, or those in a state (read beside the API, as an operator would).
checks() {
  local where="${1:-1 = 1}"
  if [[ $engine == sqlite ]]; then
    python3 -c 'import sqlite3, sys; c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True); print(c.execute(f"SELECT COUNT(*) FROM near_duplicate_checks WHERE {sys.argv[2]}").fetchone()[0])' "$work/registry.db" "$where"
  else
    PGPASSWORD="$pg_password" "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -Atc "SELECT COUNT(*) FROM near_duplicate_checks WHERE $where"
  fi
}
# Drained: no check pending for 3 polls in a row (the recorder proposes within a second of a set); 30 minutes at most.
idle=0
for _ in $(seq 1800); do
  sleep 1
  kill -0 "$api_pid" 2>/dev/null || { echo "the API exited; the end of its log:" >&2; tail -20 "$work/api.log" >&2; exit 1; }
  pending=$(checks "status = 'pending'") || { echo "could not read the store's checks" >&2; exit 1; }
  if [[ $pending == 0 ]]; then idle=$((idle + 1)); else idle=0; fi
  (( idle >= 3 )) && break
done
(( idle >= 3 )) || { echo "checks still pending after 30 minutes" >&2; exit 1; }
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
cpu_s=$(awk -v t=$(( $(cpu) - cpu_before )) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz}')

# Each edit's claim: paired with its own original's claim, and by what; pairs with other originals named.
: > "$work/found.txt"
paste "$work/claims.tsv" "$work/pairs.tsv" > "$work/joined.tsv"
while IFS=$'\t' read -r a b original edit; do
  curl -s "$target/v1/claims/$b/near-duplicates" | python3 -c '
import json, sys
own, edit, joined = sys.argv[1], sys.argv[2], sys.argv[3]
original_of = {line.split("\t")[0]: line.split("\t")[2] for line in open(joined)}
items = json.load(sys.stdin)["items"]
mine = sorted({i["by"] for i in items if i["claim"] == own})
others = [i for i in items if i["claim"] != own]
print(",".join(mine) if mine else "-", len(others))
for i in others:
    other = original_of.get(i["claim"], i["claim"])
    print("  " + edit + " paired with " + other + " by " + i["by"] + " (distance " + str(i.get("distance")) + ", similarity " + str(i.get("similarity")) + ")", file=sys.stderr)' "$a" "$edit" "$work/joined.tsv" >> "$work/found.txt" 2>> "$work/others.txt"
done < "$work/joined.tsv"

log "Aligned verification of $pairs $kind edits ($engine)"
echo "  checks: $(checks) queued, $(checks "status = 'done'") done ($(checks "is_copy = 1") copies), $(checks "status = 'failed'") failed, $(checks "attempts > 1 OR error IS NOT NULL") retried; from the first edit posted: edits fingerprinted in $(awk -v ms=$fingerprinted_ms 'BEGIN {printf "%.1f", ms / 1000}') s, checks drained in $(awk -v ms=$elapsed_ms 'BEGIN {printf "%.1f", (ms - 3000) / 1000}') s (3 s of idle polls left out); server CPU meanwhile $cpu_s s"
awk -v n="$pairs" '{ by[$1]++; if ($1 != "-") found++; other += $2 }
  END {
    printf "  paired with their own original: %d of %d (%.1f %%)\n", found, n, 100 * found / n
    for (k in by) printf "    by %s: %d\n", k, by[k]
    printf "  pairs made with another original: %d\n", other
  }' "$work/found.txt"
cat "$work/others.txt"
curl -s "$target/metrics" | awk '
  /^registry_worker_aligned_duration_seconds_(sum|count)/ { split($1, name, "{"); value[name[1]] = $2 }
  /^registry_worker_aligned_checks_total/ { print "  " $0 }
  END { base = "registry_worker_aligned_duration_seconds"; if (value[base "_count"] > 0) printf "  mean comparison: %.1f ms\n", 1000 * value[base "_sum"] / value[base "_count"] }'

#!/usr/bin/env bash
# Near-duplicate measurement: builds a set of originals (openclipart illustrations and wallpaper
# photographs from Debian packages), our own edits of each (8 kinds) and distractors, then reports per
# edit kind how often each method (PDQ, the embedder, local features, aligned verification with OpenCV's
# ORB and with the registry's own verifier) matches an edit to its original, how often a distractor
# matches any original, and how often an edit matches another original that is not the same picture.
#
#   benchmarks/neardup.sh [--originals 150] [--distractors 1000] [--seed 1]
#
# The set goes to benchmarks/.neardup/ (git-ignored; images are never committed).
set -euo pipefail
originals=150 distractors=1000 seed=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --originals) originals="$2"; shift 2 ;;
    --distractors) distractors="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    *) echo "usage: benchmarks/neardup.sh [--originals 150] [--distractors 1000] [--seed 1]" >&2; exit 2 ;;
  esac
done
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/common.sh

clipart=/usr/share/openclipart/png
wallpapers=/usr/share/backgrounds
missing=()
dpkg -s openclipart-png >/dev/null 2>&1 || missing+=(openclipart-png)
dpkg -s ukui-wallpapers >/dev/null 2>&1 || missing+=(ukui-wallpapers)
if [[ ${#missing[@]} -gt 0 ]]; then
  log "Installing ${missing[*]} (about 150 MB download)"
  apt_install "${missing[@]}"
fi

log "Building benchmarks/ConsentRegistry.NearDup (Release)"
dotnet build benchmarks/ConsentRegistry.NearDup -c Release --nologo -v quiet
tool=(dotnet benchmarks/ConsentRegistry.NearDup/bin/Release/net10.0/ConsentRegistry.NearDup.dll)

out="$repo/benchmarks/.neardup"
rm -rf "$out"
mkdir -p "$out"
log "Building the set: $originals originals, $distractors distractors (seed $seed) into $out"
timeout 1800 "${tool[@]}" build --originals "$clipart" "$wallpapers" --distractors "$clipart" "$wallpapers" \
  --out "$out" --originals-count "$originals" --distractors-count "$distractors" --seed "$seed"

log "Evaluating PDQ"
timeout 1800 "${tool[@]}" evaluate "$out" --method pdq --radius 31

log "Evaluating the embedder as it stands (bundled ResNet18, whole image, GeM)"
timeout 1800 "${tool[@]}" evaluate "$out" --method embedding

log "Evaluating local-feature verification (ORB, RANSAC similarity transform; about 6 minutes)"
timeout 1800 "${tool[@]}" evaluate "$out" --method local

log "Evaluating aligned verification (local features lay the probe over the claim, then PDQ and correlation compare them; FAST threshold 7; about 10 minutes)"
timeout 1800 "${tool[@]}" evaluate "$out" --method aligned --orb-fast 7
python3 benchmarks/ConsentRegistry.NearDup/analysis/aligned.py "$out" --max-false 1 --top 5
log "The rule chosen on the seed-1 set (PDQ <= 16, or >= 6 inliers and aligned PDQ <= 12 or correlation >= 0.98)"
python3 benchmarks/ConsentRegistry.NearDup/analysis/aligned.py "$out" --rule 16,6,0,12,0.98,2

log "The registry's own aligned verification (managed local features, as the worker runs it; about 6 minutes)"
timeout 1800 "${tool[@]}" evaluate "$out" --method verified
log "What the registry's pairs find: PDQ within 31, or aligned verification of the candidates the embedding proposes"
python3 benchmarks/ConsentRegistry.NearDup/analysis/gated.py "$out" --radius 31
python3 benchmarks/ConsentRegistry.NearDup/analysis/gated.py "$out" --radius 16 --similarity 0.75

log "Every edit against every other original too: the edits matched to another picture (about 11 minutes)"
timeout 1800 "${tool[@]}" evaluate "$out" --method pdq --cross
timeout 1800 "${tool[@]}" evaluate "$out" --method verified --cross
python3 benchmarks/ConsentRegistry.NearDup/analysis/aligned.py "$out" --pairs verified-cross --rule 31,6,0,12,0.98,2

log "PDQ or embedding, PDQ or local features (a copy counts as found when either finds it)"
"${tool[@]}" either "$out" pdq:31 embedding:0.02
"${tool[@]}" either "$out" pdq:31 local:-30

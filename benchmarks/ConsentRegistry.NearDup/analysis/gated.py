#!/usr/bin/env python3
"""What the registry's near-duplicate pairs find: PDQ of the whole pictures within a radius, or aligned
verification of the candidates the embedding proposes.

Reads what `ConsentRegistry.NearDup.dll evaluate <set> --method pdq|embedding|verified` wrote (scores-*.json:
each edit's score against its own original) and prints, per edit kind, the share of the edits found by

    PDQ distance <= radius, or (embedding similarity >= s and the verifier calls it a copy)

for each candidate similarity s given. The verifier's false matches are an upper bound for the gated rule's
(gating can only remove them); the distractors that PDQ matches at the radius are printed too. The cut to the
few most alike candidates (Registry:Matching:AlignedCandidates) is not modelled: the set has 150 originals.

    python3 benchmarks/ConsentRegistry.NearDup/analysis/gated.py benchmarks/.neardup [--radius 31] [--similarity 0.7,0.75,0.8,0.85]
        [--verified verified-reversed]   (the pairs compared the other way round, as the worker compares half of them)
        [--veto 20,0.9,48,0.8 --band 16]
            (a PDQ match farther than the band is dropped when the verifier, laying that very pair one over the
            other, finds them aligned and plainly different: its best comparison of the pair, by inliers, has at
            least 20 inliers and 0.9 overlap, aligned PDQ above 48 and correlation below 0.8. Needs the pairs
            files: pairs-pdq.tsv from `evaluate --method pdq`, pairs-verified.tsv from `--method verified`)

Standard library only. A study tool: nothing in the service runs it.
"""
import csv
import json
import sys
from collections import defaultdict

KINDS = ["crop", "caption-border", "watermark", "colour-blur", "small-jpeg", "mirror-crop", "screenshot", "rotate"]


def option(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def vetoer(folder, verified_method, veto):
    """Whether the verifier's best comparison (by inliers) of (probe, claim) finds them aligned and plainly different."""
    inliers, overlap, aligned, correlation = veto
    best = {}
    with open(f"{folder}/pairs-{verified_method}.tsv") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            key = (row["probe"], row["claim"])
            if key not in best or int(row["inliers"]) > best[key][0]:
                best[key] = (int(row["inliers"]), float(row["overlap"]), int(row["pdq"]), float(row["correlation"]))

    def vetoed(probe, claim):
        b = best.get((probe, claim))
        return b is not None and b[0] >= inliers and b[1] >= overlap and b[2] > aligned and b[3] < correlation
    return vetoed


def main():
    folder = sys.argv[1]
    radius = int(option("--radius", "31"))
    similarities = [float(s) for s in option("--similarity", "0.7,0.75,0.8,0.85").split(",")]
    manifest = json.load(open(f"{folder}/manifest.json"))
    verified_method = option("--verified", "verified")
    scores = {m: json.load(open(f"{folder}/scores-{verified_method if m == 'verified' else m}.json")) for m in ("pdq", "embedding", "verified")}
    pdq, embedding, verified = (scores[m]["Edits"] for m in ("pdq", "embedding", "verified"))
    veto = [float(x) for x in option("--veto", "").split(",")] if "--veto" in sys.argv else None
    band = int(option("--band", "16"))
    vetoed = vetoer(folder, verified_method, veto) if veto else (lambda probe, claim: False)
    pdq_pairs = defaultdict(list)
    if veto:
        with open(f"{folder}/pairs-pdq.tsv") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                pdq_pairs[row["probe"]].append((row["claim"], int(row["distance"])))

    if veto and radius > 48:
        sys.exit("--veto reads pairs-pdq.tsv, which holds the pairs within 48 only: keep --radius at 48 or below.")

    def kept(probe, claim, distance):
        """A PDQ match at the radius that the veto leaves standing."""
        return distance <= radius and (distance <= band or not vetoed(probe, claim))

    def pdq_found(path, original):
        return kept(path, original, pdq.get(path, 256))
    rule = f"pdq ≤ {radius}" + (f" (past {band} unless the verifier finds the pair different)" if veto else "")
    print(f"| {rule} or (embedding ≥ s and verified) | all edits | " + " | ".join(KINDS) + " |")
    print("|---:|---:|" + "---:|" * len(KINDS))
    for s in similarities:
        def found(e):
            path = e["Path"]
            return pdq_found(path, e["Original"]) or (1 - embedding.get(path, 2) >= s and verified.get(path, 256) <= 0)
        per_kind = []
        for kind in KINDS:
            edits = [e for e in manifest["Edits"] if e["Kind"] == kind]
            per_kind.append(sum(map(found, edits)) / len(edits))
        total = sum(map(found, manifest["Edits"])) / len(manifest["Edits"])
        print(f"| {s:g} | {total * 100:.1f} % | " + " | ".join(f"{k * 100:.1f}" for k in per_kind) + " |")
    if veto:
        false_pdq = sum(1 for d in manifest["Distractors"] if any(kept(d, claim, distance) for claim, distance in pdq_pairs[d]))
    else:
        false_pdq = sum(1 for d in manifest["Distractors"] if scores["pdq"]["Distractors"].get(d, 256) <= radius)
    false_verified = sum(1 for d in manifest["Distractors"] if scores["verified"]["Distractors"].get(d, 256) <= 0)
    print(f"distractors matched: PDQ ≤ {radius} {false_pdq}, verified {false_verified} (of {len(manifest['Distractors'])})")


if __name__ == "__main__":
    main()

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

Standard library only. A study tool: nothing in the service runs it.
"""
import json
import sys

KINDS = ["crop", "caption-border", "watermark", "colour-blur", "small-jpeg", "mirror-crop", "screenshot", "rotate"]


def option(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main():
    folder = sys.argv[1]
    radius = int(option("--radius", "31"))
    similarities = [float(s) for s in option("--similarity", "0.7,0.75,0.8,0.85").split(",")]
    manifest = json.load(open(f"{folder}/manifest.json"))
    verified_method = option("--verified", "verified")
    scores = {m: json.load(open(f"{folder}/scores-{verified_method if m == 'verified' else m}.json")) for m in ("pdq", "embedding", "verified")}
    pdq, embedding, verified = (scores[m]["Edits"] for m in ("pdq", "embedding", "verified"))
    print(f"| pdq ≤ {radius} or (embedding ≥ s and verified) | all edits | " + " | ".join(KINDS) + " |")
    print("|---:|---:|" + "---:|" * len(KINDS))
    for s in similarities:
        def found(e):
            path = e["Path"]
            return pdq.get(path, 256) <= radius or (1 - embedding.get(path, 2) >= s and verified.get(path, 256) <= 0)
        per_kind = []
        for kind in KINDS:
            edits = [e for e in manifest["Edits"] if e["Kind"] == kind]
            per_kind.append(sum(map(found, edits)) / len(edits))
        total = sum(map(found, manifest["Edits"])) / len(manifest["Edits"])
        print(f"| {s:g} | {total * 100:.1f} % | " + " | ".join(f"{k * 100:.1f}" for k in per_kind) + " |")
    false_pdq = sum(1 for d in manifest["Distractors"] if scores["pdq"]["Distractors"].get(d, 256) <= radius)
    false_verified = sum(1 for d in manifest["Distractors"] if scores["verified"]["Distractors"].get(d, 256) <= 0)
    print(f"distractors matched: PDQ ≤ {radius} {false_pdq}, verified {false_verified} (of {len(manifest['Distractors'])})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Rules over the aligned comparisons, studied offline.

Reads what `ConsentRegistry.NearDup.dll evaluate <set> --method aligned` wrote (pairs-aligned.tsv: every
probe/claim pair with at least 6 inliers, its inliers, the share of the claim the probe covers once laid
over it, the PDQ distance and the correlation of the overlapping parts, and the share of their 8x8 cells
that agree) and, when present,
scores-pdq.json (PDQ of the whole images). Prints, for rules of the form

    PDQ of the whole images <= 31, or
    inliers >= i and overlap >= o and (aligned PDQ <= d or correlation >= c or cells agreeing >= a)

the recall per edit kind and the distractors matched, best rules first among those that match at most
--max-false distractors.

    python3 benchmarks/ConsentRegistry.NearDup/analysis/aligned.py benchmarks/.neardup [--max-false 1] [--top 10]
    python3 benchmarks/ConsentRegistry.NearDup/analysis/aligned.py <another set> --rule 16,6,0,12,0.98,2
        (one rule, chosen on the first set, checked on another: pdq, inliers, overlap, aligned pdq,
        correlation, cells agreeing; -1 or 2 leaves a test out)
    ... --pairs verified
        (the pairs of `evaluate --method verified`, the registry's own verifier, in pairs-verified.tsv;
        its pairs have no cell scores)
    ... --pairs verified-cross
        (the pairs of `evaluate --method verified --cross`: every edit against every original; the table
        then counts too the edits a rule matches to another picture than their original, and --rule lists
        them; originals that are one picture (equal bytes, PDQ within 10, reviewed-copies.tsv) count as one;
        whole-image PDQ from scores-pdq-cross.json, which `evaluate --method pdq --cross` writes)

Standard library only. A study tool: nothing in the service runs it.
"""
import csv
import itertools
import json
import sys
from collections import defaultdict

KINDS = ["crop", "caption-border", "watermark", "colour-blur", "small-jpeg", "mirror-crop", "screenshot", "rotate"]


def load(folder, method="aligned"):
    manifest = json.load(open(f"{folder}/manifest.json"))
    pairs = defaultdict(list)
    with open(f"{folder}/pairs-{method}.tsv") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            pairs[row["probe"]].append((row["claim"], int(row["inliers"]), float(row["overlap"]),
                                        int(row["pdq"]), float(row["correlation"]), float(row["cells_agreeing"])))
    cross = method.endswith("-cross")
    try:
        pdq = json.load(open(f"{folder}/scores-pdq{'-cross' if cross else ''}.json"))
    except FileNotFoundError:
        if cross:
            # without it, originals that are one picture would count as false matches
            sys.exit(f"{folder}/scores-pdq-cross.json is missing: run evaluate {folder} --method pdq --cross first.")
        return manifest, pairs, {}, None
    whole = {**pdq["Edits"], **pdq["Distractors"]}
    # an edit's whole-image PDQ against the closest original that is another picture, and the originals that are one picture
    others = pdq.get("OtherOriginals") or {}
    manifest["SamePictures"] = {tuple(p) for p in pdq.get("SamePictures") or ()}
    return manifest, pairs, whole, (others if cross else None)


def matcher(pairs, whole, radius, i, o, d, c, a):
    def found(probe, claim=None):
        if whole.get(probe, 256) <= radius and claim is None:
            return True
        for (cl, inl, ov, dist, corr, agree) in pairs.get(probe, ()):
            if claim is not None and cl != claim:
                continue
            if inl >= i and ov >= o and (dist <= d or corr >= c or agree >= a):
                return True
        return False
    return found


def sources(manifest):
    """Each original of the set and the package file it was made from."""
    return dict(zip(manifest["Originals"], manifest.get("Sources", [])))


def crossed(manifest, pairs, others, rule):
    """The edits the rule matches to another picture than their own original: (edit, how). Another original
    that is the same picture (equal bytes, PDQ within 10, or reviewed-copies.tsv: the pairs evaluate --cross
    leaves out and lists in its scores) does not count."""
    radius, i, o, d, c, a = rule
    source = sources(manifest)
    same = manifest.get("SamePictures", set())
    matched = []
    for e in manifest["Edits"]:
        if others.get(e["Path"], 256) <= radius:
            matched.append((e, f"whole-image PDQ {others[e['Path']]:g}"))
            continue
        for (cl, inl, ov, dist, corr, agree) in pairs.get(e["Path"], ()):
            if (cl != e["Original"] and (cl, e["Original"]) not in same
                    and inl >= i and ov >= o and (dist <= d or corr >= c or agree >= a)):
                matched.append((e, f"{source.get(cl, cl)}: {inl} inliers, aligned PDQ {dist}, correlation {corr:.3f}"))
                break
    return matched


def evaluate(manifest, pairs, whole, rule):
    radius = rule[0]
    found = matcher(pairs, whole, *rule)
    per_kind = {}
    for kind in KINDS:
        edits = [e for e in manifest["Edits"] if e["Kind"] == kind]
        hits = sum(1 for e in edits if whole.get(e["Path"], 256) <= radius or found(e["Path"], e["Original"]))
        per_kind[kind] = hits / len(edits)
    edits = manifest["Edits"]
    total = sum(1 for e in edits if whole.get(e["Path"], 256) <= radius or found(e["Path"], e["Original"])) / len(edits)
    false = sum(1 for p in manifest["Distractors"] if found(p))
    return total, per_kind, false


def main():
    folder = sys.argv[1]
    max_false = int(sys.argv[sys.argv.index("--max-false") + 1]) if "--max-false" in sys.argv else 1
    method = sys.argv[sys.argv.index("--pairs") + 1] if "--pairs" in sys.argv else "aligned"
    manifest, pairs, whole, others = load(folder, method)
    if "--rule" in sys.argv:
        # one rule chosen elsewhere (on another set), reported whatever it matches
        rule = tuple(float(x) for x in sys.argv[sys.argv.index("--rule") + 1].split(","))
        rules, max_false = [rule], len(manifest["Distractors"])
    else:
        rules = itertools.product([-1, 8, 12, 16, 24, 31], [6, 8, 10, 15], [0.0, 0.5],
                                  [-1, 8, 12, 16, 20, 24, 31], [2.0, 0.98, 0.95, 0.9], [2.0, 0.95, 0.9, 0.85, 0.8, 0.7])
    results = []
    for rule in rules:
        total, per_kind, false = evaluate(manifest, pairs, whole, rule)
        if false <= max_false:
            other = len(crossed(manifest, pairs, others, rule)) if others is not None else None
            results.append((total, rule, per_kind, false, other))
    results.sort(key=lambda r: -r[0])
    print("| pdq ≤ | inliers ≥ | overlap ≥ | aligned pdq ≤ | correlation ≥ | cells agreeing ≥ | all edits | " +
          " | ".join(KINDS) + " | distractors |" + (" edits matched to another picture |" if others is not None else ""))
    print("|" + "---:|" * (8 + len(KINDS) + (1 if others is not None else 0)))
    for total, rule, per_kind, false, other in results[:int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 10]:
        cells = ["–" if rule[0] < 0 else f"{rule[0]:g}", f"{rule[1]:g}", f"{rule[2]:g}",
                 "–" if rule[3] < 0 else f"{rule[3]:g}", "–" if rule[4] > 1 else f"{rule[4]:g}",
                 "–" if rule[5] > 1 else f"{rule[5]:g}"]
        print("| " + " | ".join(cells) + f" | {total * 100:.1f} % | " +
              " | ".join(f"{per_kind[k] * 100:.0f}" for k in KINDS) + f" | {false} |" + (f" {other} |" if other is not None else ""))
    if "--rule" in sys.argv:
        found = matcher(pairs, whole, *rules[0])
        for path in manifest["Distractors"]:
            if found(path):
                print(f"matched distractor: {path} (whole-image PDQ {whole.get(path, 256)})")
        source = sources(manifest)
        for e, how in crossed(manifest, pairs, others, rules[0]) if others is not None else ():
            print(f"matched another picture: {e['Kind']} of {source.get(e['Original'], e['Original'])}, {how}")


if __name__ == "__main__":
    main()

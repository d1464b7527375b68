#!/usr/bin/env python3
"""A whitening learned from matching pairs, studied offline.

Reads the feature maps that `ConsentRegistry.NearDup.dll features` wrote for two sets: a training set (built
with `build --exclude <evaluation set>`, so none of its pictures is in the evaluation set) and the evaluation
set. From the training set's originals and their edits it learns a linear projection of the GeM-pooled maps
(Radenovic et al., "Fine-tuning CNN image retrieval with no human annotation", 2018: whiten by the scatter
of matching pairs, then rotate onto the principal directions of all descriptors), and reports on the
evaluation set the recall per edit kind when at most 0 or 1 distractor may match, alone and together with
PDQ of the whole images (scores-pdq.json), for several output sizes.

    python3 benchmarks/ConsentRegistry.NearDup/analysis/learned.py benchmarks/.neardup-train benchmarks/.neardup

Needs NumPy (Debian: apt-get install python3-numpy). A study tool: nothing in the service runs it.
"""
import json
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from pooling import KINDS, gem, load, unit  # noqa: E402


def learn(x, pairs, dims, eps=1e-3):
    """x: unit descriptors; pairs: (i, j) indices of matching images. Returns (mean, projection)."""
    mean = x.mean(0)
    diff = x[pairs[:, 0]] - x[pairs[:, 1]]
    scatter = diff.T @ diff / len(diff) + eps * np.eye(x.shape[1]) * np.trace(diff.T @ diff / len(diff)) / x.shape[1]
    values, vectors = np.linalg.eigh(scatter)
    p1 = (vectors / np.sqrt(values)) @ vectors.T
    centred = (x - mean) @ p1.T
    values2, vectors2 = np.linalg.eigh(np.cov(centred, rowvar=False))
    order = np.argsort(values2)[::-1][:dims]
    return mean, vectors2[:, order].T @ p1


def project(w, x):
    return unit((x - w[0]) @ w[1].T)


def views(entries, maps, which):
    whole, trimmed = unit(gem(maps[:, 0])), unit(gem(maps[:, 1]))
    return {"whole": [whole], "trimmed": [trimmed], "both": [whole, trimmed]}[which]


def pairs_of(entries):
    roles = [e["Role"] for e in entries]
    first = {}
    for i, e in enumerate(entries):
        if roles[i] == "original":
            first[e["Original"]] = i
    return np.array([(first[e["Original"]], i) for i, e in enumerate(entries) if roles[i] == "edit"])


def scores(entries, vecs):
    """For each edit its best similarity to its own original, for each distractor its best over all originals."""
    roles = np.array([e["Role"] for e in entries])
    originals = np.array([e["Original"] for e in entries])
    claim_idx = np.where(roles == "original")[0]
    claims = np.stack([v[claim_idx] for v in vecs], 1)  # n, views, d
    own = {int(originals[i]): k for k, i in enumerate(claim_idx)}
    probes = np.stack(vecs, 1)
    flat = claims.reshape(-1, claims.shape[-1])
    edit_scores, distractor_scores = {}, {}
    for i in np.where(roles == "edit")[0]:
        edit_scores[entries[i]["Path"]] = (probes[i] @ claims[own[int(originals[i])]].T).max()
    for i in np.where(roles == "distractor")[0]:
        distractor_scores[entries[i]["Path"]] = (probes[i] @ flat.T).max()
    return edit_scores, distractor_scores


def report(label, entries, edit_scores, distractor_scores, pdq, radius):
    kinds = {e["Path"]: e["Kind"] for e in entries if e["Role"] == "edit"}
    pdq_hit = {p for p, s in pdq.items() if s <= radius}
    false_pdq = sum(1 for p in distractor_scores if p in pdq_hit)
    ranked = sorted((s for p, s in distractor_scores.items() if p not in pdq_hit), reverse=True)
    for allowed in (0, 1):
        left = allowed - false_pdq
        if left < 0:
            continue
        threshold = ranked[left]
        found = {p: (p in pdq_hit) or s > threshold for p, s in edit_scores.items()}
        total = np.mean(list(found.values()))
        per = {k: np.mean([v for p, v in found.items() if kinds[p] == k]) for k in KINDS}
        pdq_label = "–" if radius < 0 else str(radius)
        print(f"| {label} | {pdq_label} | {allowed} | {threshold:.3f} | {total * 100:.1f} % | "
              + " | ".join(f"{per[k] * 100:.0f}" for k in KINDS) + " |")


def main(train_folder, test_folder):
    train_entries, train_maps = load(train_folder)
    test_entries, test_maps = load(test_folder)
    try:
        pdq_scores = json.load(open(f"{test_folder}/scores-pdq.json"))
        pdq = {**pdq_scores["Edits"], **pdq_scores["Distractors"]}
    except FileNotFoundError:
        pdq = {}
    train_pairs = pairs_of(train_entries)
    print(f"training: {len(train_entries)} images, {len(train_pairs)} pairs; evaluation: {len(test_entries)} images\n")
    print("| descriptor | pdq ≤ | distractors allowed | similarity above | all edits | " + " | ".join(KINDS) + " |")
    print("|---|---:|---:|---:|---:|" + "---:|" * len(KINDS))
    for which in ("whole", "both"):
        train_views = views(train_entries, train_maps, which)
        test_views = views(test_entries, test_maps, which)
        for radius in (-1, 12, 16):
            report(f"{which}, raw GeM", test_entries, *scores(test_entries, test_views), pdq, radius)
        x = np.concatenate(train_views)
        n = len(train_entries)
        pairs = np.concatenate([train_pairs + k * n for k in range(len(train_views))])
        if which == "both":
            # whole of one against trimmed of the other match too
            pairs = np.concatenate([pairs, train_pairs + np.array([0, n]), train_pairs + np.array([n, 0])])
        for dims in (64, 128, 256, 512):
            w = learn(x, pairs, dims)
            test_projected = [project(w, v) for v in test_views]
            for radius in (-1, 12, 16):
                report(f"{which}, learned whitening to {dims}", test_entries, *scores(test_entries, test_projected), pdq, radius)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

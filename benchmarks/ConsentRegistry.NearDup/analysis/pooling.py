#!/usr/bin/env python3
"""Pooling, views and whitening of the bundled model's feature maps, studied offline.

Reads what `ConsentRegistry.NearDup.dll features <set>` wrote (features.json, features.bin: per image the
512x7x7 map of the whole picture letterboxed to 224 px, and of its content trimmed of uniform margins) and
reports, for each variant, the recall per edit kind when at most 0 or 1 distractor (of ~1,000) may match.

    python3 benchmarks/ConsentRegistry.NearDup/analysis/pooling.py benchmarks/.neardup

Needs NumPy (Debian: apt-get install python3-numpy). A study tool: nothing in the service runs it.
"""
import json
import sys

import numpy as np


def load(folder):
    index = json.load(open(f"{folder}/features.json"))
    entries = index["Entries"]
    shape = (len(entries), index["Views"], index["Channels"], index["MapHeight"], index["MapWidth"])
    maps = np.fromfile(f"{folder}/features.bin", dtype=np.float16).reshape(shape)
    return entries, maps


def content_cells(width, height, size=224, cells=7):
    """The map cells whose centre lies on the picture (not the grey letterbox) of the whole view."""
    scale = size / max(width, height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    left, top, stride = (size - w) // 2, (size - h) // 2, size / cells
    xs = [i for i in range(cells) if left <= (i + 0.5) * stride < left + w] or [cells // 2]
    ys = [i for i in range(cells) if top <= (i + 0.5) * stride < top + h] or [cells // 2]
    return slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1)


def gem(m, p=3.0):
    return (np.maximum(m.astype(np.float32), 1e-6) ** p).mean(axis=(-2, -1)) ** (1 / p)


def unit(x):
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(n == 0, 1, n)


def learn_whitening(x, dims, alpha, eps=1e-6):
    mean = x.mean(0)
    values, vectors = np.linalg.eigh(np.cov(x - mean, rowvar=False))
    order = np.argsort(values)[::-1][:dims]
    return mean, (vectors[:, order] / (values[order] + eps) ** alpha).T


def whiten(w, x):
    return unit(x) if w is None else unit((x - w[0]) @ w[1].T)


def evaluate(label, claims, probes, roles, kinds, originals):
    """claims/probes: per image an array of vectors (views); a pair scores its best cosine over views."""
    own = {int(originals[i]): claims[i] for i in np.where(roles == "original")[0]}
    everything = np.concatenate(list(own.values()))
    edits = {}
    for i in np.where(roles == "edit")[0]:
        edits.setdefault(kinds[i], []).append((probes[i] @ own[int(originals[i])].T).max())
    distractors = np.sort([(probes[i] @ everything.T).max() for i in np.where(roles == "distractor")[0]])[::-1]
    for allowed in (0, 1):
        threshold = distractors[allowed]
        found = {k: (np.array(v) > threshold).mean() for k, v in edits.items()}
        total = np.mean(np.concatenate([np.array(v) > threshold for v in edits.values()]))
        print(f"| {label} | {allowed} | {threshold:.3f} | {total * 100:.1f} % | "
              + " | ".join(f"{found[k] * 100:.0f}" for k in KINDS) + " |")


KINDS = ["crop", "caption-border", "watermark", "colour-blur", "small-jpeg", "mirror-crop", "screenshot", "rotate"]


def main(folder):
    entries, maps = load(folder)
    roles = np.array([e["Role"] for e in entries])
    kinds = np.array([e["Kind"] or "" for e in entries])
    originals = np.array([e["Original"] for e in entries])
    background = roles == "background"
    whole = gem(maps[:, 0])
    content = np.array([gem(maps[i, 0][:, ys, xs]) for i, (ys, xs) in
                        enumerate(content_cells(e["Width"], e["Height"]) for e in entries)])
    trimmed = gem(maps[:, 1])
    print(f"images: {len(entries)} ({int(background.sum())} background)\n")
    print("| variant | distractors allowed | similarity above | all edits | " + " | ".join(KINDS) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(KINDS))

    def single(label, x, w=None):
        v = whiten(w, x)[:, None, :]
        evaluate(label, v, v, roles, kinds, originals)

    single("whole, letterboxed (the service today)", whole)
    single("whole, picture cells only", content)
    single("trimmed of margins", trimmed)
    both = np.stack([unit(whole), unit(trimmed)], 1)
    evaluate("whole or trimmed (best of 2×2 pairs)", both, both, roles, kinds, originals)
    for dims in (128, 256, 512):
        for alpha in (0.5, 0.25):
            single(f"whole, PCA-whitened to {dims}, power {alpha}", whole, learn_whitening(whole[background], dims, alpha))
    w = learn_whitening(np.concatenate([whole[background], trimmed[background]]), 256, 0.5)
    both = np.stack([whiten(w, whole), whiten(w, trimmed)], 1)
    evaluate("whole or trimmed, whitened to 256", both, both, roles, kinds, originals)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/.neardup")

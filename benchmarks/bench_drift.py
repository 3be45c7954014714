"""Split drift and weak regions on Fashion-MNIST: what the ``drift`` check flags with and without planted drift.

Data: 2,000 Fashion-MNIST **t10k** images (200 per class; a fixed subset of the active-learning
benchmark's 6,000, whose embeddings it reuses), embedded with the shipped EfficientNet-Lite0
(:func:`workbench.embeddings.pipeline.embed_files`). Each variant splits them 70/30 at random (train /
test, a fixed seed per variant) and may change one class's test images:

- ``random-N``: nothing changed (five random splits: every flag is a false alarm);
- ``dark``: the test Coats' pixels scaled by 0.55 (a darker camera for one class);
- ``blur``: the test Bags blurred (Gaussian, radius 1 px);
- ``dark-sandal``, ``blur-shirt``: the same on other classes, added after the default ``auc`` was
  chosen from the first seven rows (held out).

Each variant runs :func:`workbench.checks.drift.find_drift` with default options; the weak regions are
those of the clean images (the first random split; the other variants skip them).

    python -m benchmarks.bench_drift
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks import common
from benchmarks.bench_active_learning import WORK, embed, images

SEED = 20261204
#: variant -> (class changed in test, how)
PLANTED = {"dark": ("Coat", "dark"), "blur": ("Bag", "blur"), "dark-sandal": ("Sandal", "dark"),
           "blur-shirt": ("Shirt", "blur")}


def planted_paths(paths: list[str], labels: list[str], test: np.ndarray, label: str, how: str) -> list[str]:
    """``paths`` with the test images of ``label`` replaced by darkened or blurred copies (written once)."""
    from PIL import Image, ImageFilter

    folder = WORK.parent / "drift" / how
    folder.mkdir(parents=True, exist_ok=True)
    out = list(paths)
    for i in np.flatnonzero(test):
        if labels[i] != label:
            continue
        target = folder / f"{how}-{i:05d}.png"
        if not target.exists():
            with Image.open(paths[i]) as img:
                changed = (Image.fromarray((np.asarray(img, dtype=np.float32) * 0.55).astype(np.uint8))
                           if how == "dark" else img.filter(ImageFilter.GaussianBlur(1)))
                changed.save(target)
        out[i] = str(target)
    return out


def main(argv: list[str] | None = None) -> int:
    from workbench.checks.drift import find_drift

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, default=200)
    p.add_argument("--random-splits", type=int, default=5)
    args = p.parse_args(argv)
    all_paths, all_labels, classes = images(600, 20261203)
    rng = np.random.default_rng(SEED)
    rows = np.concatenate([rng.choice(np.flatnonzero(all_labels == k), args.per_class, replace=False)
                           for k in range(len(classes))])
    paths = [all_paths[i] for i in rows]
    labels = [classes[all_labels[i]] for i in rows]
    ids = [str(i) for i in range(len(rows))]
    variants = [(f"random-{s}", None, s) for s in range(1, args.random_splits + 1)]
    variants += [(name, PLANTED[name], 1) for name in PLANTED]
    table, report, regions = [], {}, None
    for name, planted, split_seed in variants:
        test = np.random.default_rng(SEED + split_seed).random(len(rows)) < 0.3
        splits = ["test" if t else "train" for t in test]
        files = planted_paths(paths, labels, test, *planted) if planted else paths
        t = time.perf_counter()
        vectors = embed(files)
        r = find_drift(ids, files, splits, labels, vectors, seed=0,
                       labels_skip="" if regions is None else "measured on the first variant")
        seconds = time.perf_counter() - t
        (s,) = r.splits
        flags = [f"{c.label} (AUC {c.auc:.3f}, baseline p95 {c.baseline_p95:.3f}, p {c.p_value:.2g})"
                 for c in s.flagged_classes]
        top = max((c for c in s.classes if c.auc is not None), key=lambda c: c.auc)
        found = "—" if not planted else ("yes" if [c.label for c in s.flagged_classes] == [planted[0]] else "no")
        table.append([name, f"{s.n_split} / {s.n_rest}", f"{s.auc:.3f} ({s.baseline_mean:.3f})",
                      f"{top.label} {top.auc:.3f} (p {top.p_value:.2g})", "; ".join(flags) or "none", found,
                      f"{seconds:.1f}"])
        report[name] = r.to_export()["drift"]
        if regions is None:
            regions = r
    print(common.markdown_table(["variant", "test / train", "domain AUC (class mix alone)", "highest class AUC",
                                 "flagged (test, class)", "planted found", "s"], table))
    print(f"\nweak regions on the clean images ({regions.n_clusters} clusters, out-of-fold accuracy "
          f"{regions.overall_accuracy:.3f}):")
    print(common.markdown_table(["region", "description", "binomial p"],
                                [[g.name, g.description, f"{g.p_value:.2g}"] for g in regions.regions]))
    out = common.write_json(common.BENCH_DIR / f"drift-{common.timestamp()}.json", {
        "machine": common.machine_info(("numpy", "scipy", "scikit-learn")), "per_class": args.per_class,
        "variants": report})
    print(f"\n{out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

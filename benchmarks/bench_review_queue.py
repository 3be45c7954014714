"""Label errors as a ranked review queue: precision and recall per budget, against cleanlab's flagged set.

Two real image datasets with planted label noise, embedded with the project's fallback
embedder (EfficientNet-Lite0, ImageNet weights; vectors cached under ``build/bench/review-queue/cache``):

* **Fashion-MNIST** (Debian ``dataset-fashion-mnist``): ``--fmnist-n`` train images (stratified,
  seeded), ``--fmnist-noise`` of them flipped uniformly to another class;
* **digits** (scikit-learn's bundled ``load_digits``: 1,797 real 8x8 scans of handwritten digits),
  with ASYMMETRIC noise: ``--digits-noise`` of the images of 3, 8, 1, 7, 4, 9, 5 and 6 take the label
  of their look-alike (3<->8, 1<->7, 4<->9, 5<->6); 0 and 2 are left clean.

Each dataset goes through the audit's own code: out-of-fold probabilities
(``out_of_fold_probabilities``), the k-NN graph (``knn_graph``, k = 10, the audit's default), then
``find_label_issues`` with the graph's neighbour labels (cleanlab's flagged set, the review queue and
the tier estimates). Every candidate ranking (``label_quality``) is scored at ``--budgets``, at the
flagged set's size and at the default budget, next to cleanlab's flagged set of the same size, both as
``cleanlab.filter.find_label_issues`` returns it (a mask: dataset order) and in cleanlab's ranked order
(``return_indices_ranked_by="self_confidence"``). The audit's own precision estimates (no ground
truth) are printed next to the measured ones. Each ``--seeds`` value draws new noise on the same images.

    python -m benchmarks.bench_review_queue [--fmnist-n 3000] [--budgets 50,100,200,400] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "bench" / "review-queue"

#: Look-alike digit pairs for the asymmetric noise.
DIGIT_SWAPS = ((3, 8), (1, 7), (4, 9), (5, 6))
#: Look-alike Fashion-MNIST classes: T-shirt/Shirt, Pullover/Coat, Sneaker/Ankle boot.
FMNIST_SWAPS = ((0, 6), (2, 4), (7, 9))


def _write_pngs(folder: Path, images: np.ndarray) -> list[str]:
    """Each ``uint8`` image as ``folder/<index>.png`` (kept when already there); returns the paths."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        path = folder / f"{i:05d}.png"
        if not path.exists():
            Image.fromarray(img).save(path, compress_level=1)
        paths.append(str(path))
    return paths


def fmnist_images(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``n`` Fashion-MNIST train images (an equal share of each class, seeded), labels, class names."""
    from benchmarks.fmnist import DEFAULT_SOURCE, _demo_builder

    demo = _demo_builder()
    images, labels = demo.load_split(DEFAULT_SOURCE, "train")
    rng = np.random.default_rng(seed)
    per = n // len(demo.CLASSES)
    pick = np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), per, replace=False)
                                   for c in range(len(demo.CLASSES))]))
    return np.asarray(images[pick], dtype=np.uint8), np.asarray(labels[pick], dtype=np.int64), list(demo.CLASSES)


def digits_images() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """scikit-learn's 1,797 8x8 digit scans (0-16 grey levels) as ``uint8`` 0-255 images."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.round(d.images * (255 / 16)).astype(np.uint8)
    return images, d.target.astype(np.int64), [str(c) for c in range(10)]


def uniform_flips(truth: np.ndarray, n_classes: int, rate: float, *, seed: int = 0) -> np.ndarray:
    """Given labels: ``rate`` of the samples moved to another class chosen uniformly."""
    rng = np.random.default_rng(seed)
    given = truth.copy()
    flip = rng.choice(len(truth), size=int(round(rate * len(truth))), replace=False)
    given[flip] = (truth[flip] + rng.integers(1, n_classes, len(flip))) % n_classes
    return given


def asymmetric_swaps(truth: np.ndarray, rate: float, *, seed: int = 0,
                     swaps: tuple[tuple[int, int], ...] = DIGIT_SWAPS) -> np.ndarray:
    """Given labels: ``rate`` of each swapped class's samples take the label of its look-alike."""
    rng = np.random.default_rng(seed)
    given = truth.copy()
    for a, b in swaps:
        for src, dst in ((a, b), (b, a)):
            members = np.flatnonzero(truth == src)
            given[rng.choice(members, size=int(round(rate * len(members))), replace=False)] = dst
    return given


def embed(paths: list[str]) -> np.ndarray:
    """EfficientNet-Lite0 vectors of ``paths`` (L2-normalised), from the benchmark's cache when there."""
    from workbench.embeddings.backends import load_efficientnet_lite0
    from workbench.embeddings.pipeline import embed_files

    hashes = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]
    embedder = load_efficientnet_lite0(device="cpu")
    emb = embed_files(paths, paths, hashes, embedder, cache_dir=str(WORK / "cache"), batch_size=64,
                      num_workers=1, progress=False)
    if len(emb.ids) != len(paths):
        raise RuntimeError(f"{len(paths) - len(emb.ids)} images failed to embed: {list(emb.failed.items())[:3]}")
    return emb.vectors


def _scored(order: np.ndarray, errors: np.ndarray) -> dict[str, float | int]:
    found = int(errors[order].sum())
    return {"shown": int(len(order)), "found": found,
            "precision": round(found / len(order), 4) if len(order) else None,
            "recall": round(found / int(errors.sum()), 4) if errors.any() else None}


def evaluate(vectors: np.ndarray, truth: np.ndarray, given: np.ndarray, classes: list[str],
             budgets: list[int], *, k: int = 10, seed: int = 0) -> dict:
    """The audit's label stage on one noisy dataset, every ranking scored against the planted errors."""
    from workbench.checks.label_issues import (find_label_issues, label_quality, neighbor_vote_probabilities,
                                               out_of_fold_probabilities)
    from workbench.checks.neighbors import knn_graph

    t = time.perf_counter()
    n = len(given)
    probs, folds, accuracy = out_of_fold_probabilities(vectors, given, seed=seed)
    graph = knn_graph(np.ascontiguousarray(vectors, dtype=np.float32), k=k, method="exact")
    labels = [classes[g] for g in given]
    neighbor_labels = [[labels[j] for j in row if j >= 0] for row in graph.indices]
    ids = [str(i) for i in range(n)]
    result = find_label_issues(ids, ids, [None] * n, labels, probs, classes, method="bench",
                               neighbor_labels=neighbor_labels)
    seconds = time.perf_counter() - t
    errors = given != truth
    # Baselines: cleanlab's flagged set as find_label_issues returns it (a mask: dataset order), and the
    # same set in cleanlab's ranked order (return_indices_ranked_by="self_confidence": result.issues).
    flagged_ranked = np.array([int(i.sample_id) for i in result.issues], dtype=np.int64)
    flagged_mask_order = np.sort(flagged_ranked)
    n_flagged = len(flagged_ranked)
    clipped = np.clip(probs, 1e-12, None)
    clipped /= clipped.sum(axis=1, keepdims=True)
    votes = neighbor_vote_probabilities(neighbor_labels, classes)
    orders = {r: np.lexsort((np.arange(n), label_quality(given, clipped, ranking=r, neighbor_probs=votes)))
              for r in ("self_confidence", "normalized_margin", "neighbor_ensemble")}
    sizes = sorted({b for b in budgets if b <= n} | {n_flagged, result.review_budget})
    table = []
    for b in sizes:
        row = {"budget": b, "is_flagged_size": b == n_flagged, "is_default_budget": b == result.review_budget,
               "cleanlab_flagged_mask_order": _scored(flagged_mask_order[:b], errors) if b <= n_flagged else None,
               "cleanlab_flagged_ranked": _scored(flagged_ranked[:b], errors) if b <= n_flagged else None}
        row.update({r: _scored(o[:b], errors) for r, o in orders.items()})
        table.append(row)
    queue = np.array([int(i.sample_id) for i in result.review_queue], dtype=np.int64)
    rest = np.setdiff1d(np.arange(n), np.union1d(flagged_ranked, queue))
    measured = {"likely_errors": flagged_ranked, "review_queue": queue, "rest": rest}
    tiers = [{"tier": t.tier, "n": t.n, "expected_precision": t.expected_precision, "precision_low": t.precision_low,
              "precision_high": t.precision_high,
              "measured_precision": round(float(errors[measured[t.tier]].mean()), 4) if t.n else None}
             for t in result.tiers]
    return {"n": n, "n_errors": int(errors.sum()), "oof_accuracy": round(accuracy, 4), "folds": folds,
            "flagged": n_flagged, "estimated_n_issues": result.estimated_n_issues,
            "default_budget": result.review_budget, "shipped_ranking": result.review_ranking,
            "seconds": round(seconds, 1), "table": table, "tiers": tiers}


RANKING_COLUMNS = (("cleanlab_flagged_mask_order", "flagged set, as returned"),
                   ("cleanlab_flagged_ranked", "flagged set, cleanlab-ranked"),
                   ("self_confidence", "self-confidence"), ("normalized_margin", "normalized margin"),
                   ("neighbor_ensemble", "neighbour ensemble"))


def _range(t: dict) -> str:
    """A tier's estimated precision range, e.g. ``16.2-75.0%`` (one decimal: the rest tier's are small)."""
    low, high = t.get("precision_low"), t.get("precision_high")
    if low is None or high is None:
        return "none"
    return f"{low:.1%}" if round(low, 3) == round(high, 3) else f"{low * 100:.1f}-{high:.1%}"


def markdown(name: str, r: dict) -> str:
    """One dataset's table: found / precision / recall per budget and ranking."""
    head = (f"**{name}**: {r['n']} images, {r['n_errors']} planted errors, out-of-fold accuracy "
            f"{r['oof_accuracy']:.3f}; cleanlab flags {r['flagged']}, estimates {r['estimated_n_issues']} issues "
            f"(= default budget)\n\n")
    lines = ["| shown | " + " | ".join(label for _, label in RANKING_COLUMNS) + " |",
             "| ---: |" + " ---: |" * len(RANKING_COLUMNS)]
    for row in r["table"]:
        tag = " (flagged set's size)" if row["is_flagged_size"] else ""
        tag += " (default budget)" if row["is_default_budget"] else ""
        cells = []
        for key, _ in RANKING_COLUMNS:
            c = row[key]
            cells.append("—" if c is None else f"{c['found']} ({c['precision']:.0%} / {c['recall']:.0%})")
        lines.append(f"| {row['budget']}{tag} | " + " | ".join(cells) + " |")
    tiers = "; ".join(f"{t['tier']} {t['n']}: estimated {_range(t)}"
                      f", measured {t['measured_precision'] if t['measured_precision'] is None else format(t['measured_precision'], '.0%')}"
                      for t in r["tiers"])
    return head + "\n".join(lines) + f"\n\nTier precision (shipped ranking {r['shipped_ranking']}): {tiers}\n"


def aggregate(name: str, runs: list[dict], budgets: list[int]) -> str:
    """Errors found summed over noise seeds, at the fixed budgets, the flagged set's size and the default budget."""
    keys = [("flagged set's size", lambda row: row["is_flagged_size"]),
            ("default budget", lambda row: row["is_default_budget"])]
    keys += [(str(b), lambda row, b=b: row["budget"] == b) for b in budgets]
    lines = [f"**{name}**, {len(runs)} noise seeds: real errors found, summed "
             f"(of {sum(r['n_errors'] for r in runs)} planted; shown in brackets)\n",
             "| shown | " + " | ".join(label for _, label in RANKING_COLUMNS) + " |",
             "| --- |" + " ---: |" * len(RANKING_COLUMNS)]
    for label, pick in keys:
        rows = [next((row for row in r["table"] if pick(row)), None) for r in runs]
        if any(row is None for row in rows):
            continue
        shown = sum(row["budget"] for row in rows)
        cells = []
        for key, _ in RANKING_COLUMNS:
            cs = [row[key] for row in rows]
            cells.append("—" if any(c is None for c in cs) else str(sum(c["found"] for c in cs)))
        lines.append(f"| {label} ({shown}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fmnist-n", type=int, default=3000, help="Fashion-MNIST images (a multiple of 10)")
    p.add_argument("--fmnist-noise", type=float, default=0.08, help="share of labels flipped uniformly")
    p.add_argument("--digits-noise", type=float, default=0.15,
                   help="share of each look-alike class's labels swapped to its pair")
    p.add_argument("--budgets", default="50,100,200,400")
    p.add_argument("--seeds", default="0,1,2", help="noise seeds; the first one's tables are printed in full")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "review-queue.json")
    args = p.parse_args(argv)
    from benchmarks.common import machine_info

    budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    info = machine_info(["numpy", "scikit-learn", "cleanlab", "torch", "faiss-cpu"])
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    results: dict[str, list[dict]] = {}
    images, truth, classes = fmnist_images(args.fmnist_n)
    vectors = embed(_write_pngs(WORK / f"fmnist-{args.fmnist_n}", images))
    results["fashion-mnist"] = [
        evaluate(vectors, truth, uniform_flips(truth, len(classes), args.fmnist_noise, seed=seed), classes, budgets)
        for seed in seeds]
    # The tiers' precision estimates only: look-alike swaps, and no planted errors at all.
    results["fashion-mnist-swaps"] = [
        evaluate(vectors, truth, asymmetric_swaps(truth, args.digits_noise, seed=seed, swaps=FMNIST_SWAPS), classes,
                 budgets) for seed in seeds[:1]]
    results["fashion-mnist-clean"] = [evaluate(vectors, truth, truth.copy(), classes, budgets)]
    images, truth, classes = digits_images()
    vectors = embed(_write_pngs(WORK / "digits", images))
    results["digits"] = [evaluate(vectors, truth, asymmetric_swaps(truth, args.digits_noise, seed=seed), classes,
                                  budgets) for seed in seeds]
    results["digits-clean"] = [evaluate(vectors, truth, truth.copy(), classes, budgets)]
    doc = {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1))
    git = info.get("git") or {}
    print(f"machine: {info['date']}, {info['cpu_model']}, {info['nproc']} cores, load {info['loadavg_at_start']}, "
          f"commit {git.get('commit')}{' (dirty)' if git.get('dirty') else ''}, "
          + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    print("cells: real errors found (precision / recall) among the first N samples shown\n")
    names = {"fashion-mnist": f"Fashion-MNIST, {args.fmnist_noise:.0%} uniform flips",
             "digits": f"digits (scikit-learn), {args.digits_noise:.0%} of 3/8, 1/7, 4/9, 5/6 swapped"}
    for key, name in names.items():
        print(markdown(f"{name}, noise seed {seeds[0]}", results[key][0]))
        if len(seeds) > 1:
            print(aggregate(name, results[key], budgets))
    print(tier_table(results))
    return 0


def tier_table(results: dict[str, list[dict]]) -> str:
    """Every run's tiers: the audit's estimated precision range next to the measured share of real errors."""
    inside = [t["precision_low"] <= t["measured_precision"] <= t["precision_high"]
              for runs in results.values() for r in runs for t in r["tiers"]
              if t["measured_precision"] is not None and t["precision_low"] is not None]
    lines = [f"**Tier precision, estimated without ground truth (range) / measured**: the measured share fell "
             f"inside the range in {sum(inside)} of {len(inside)} tiers\n",
             "| data | seed | out-of-fold accuracy | planted errors | likely errors | review queue | rest |",
             "| --- | ---: | ---: | ---: | --- | --- | --- |"]
    for key, runs in results.items():
        for seed, r in enumerate(runs):
            cells = []
            for t in r["tiers"]:
                measured = "—" if t["measured_precision"] is None else f"{t['measured_precision']:.1%}"
                cells.append(f"{t['n']}: {_range(t)} / {measured}")
            lines.append(f"| {key} | {seed} | {r['oof_accuracy']:.3f} | {r['n_errors']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())

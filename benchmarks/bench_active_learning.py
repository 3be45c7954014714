"""Active learning on Fashion-MNIST: workbench's selection against random and single-criterion picks, in one run.

Data: 6,000 Fashion-MNIST **t10k** images (600 per class, seed 20261203), embedded with the shipped
EfficientNet-Lite0 (the audit's offline model). 4,000 form the pool a labeller draws from, 2,000 are
held out to measure accuracy and are never selected.

Protocol, per seed (3 seeds): 50 pool images labelled at random to start; then, each round, a
strategy picks the next batch (50 up to 500 labels, then 100 up to 1,000) from the unlabelled rest of
the pool; after each round the audit's probe (multinomial logistic regression on the embeddings,
:func:`workbench.checks.probe.fitted_probabilities`) is fitted on the labelled images and scored on
the held-out 2,000. Strategies:

- ``random``: a uniform draw;
- ``entropy`` / ``margin``: uncertainty alone (``w_diversity=0``);
- ``k-center``: diversity alone (``w_uncertainty=0``, the whole pool);
- ``mix-entropy``: entropy 0.5 + diversity 0.5 over the whole pool;
- ``mix-0.5``: margin 0.5 + diversity 0.5 among the 5 x batch most uncertain;
- ``workbench``: the defaults of ``workbench select`` (margin 0.8 + diversity 0.2 among the 5 x batch
  most uncertain), through :func:`workbench.checks.selection.select_next`, the function the audit runs;
- ``uniq-0.1`` / ``uniq-0.3``: the same plus uniqueness (each image's percentile of distance to its 10
  nearest pool neighbours, :func:`workbench.checks.selection_rank.uniqueness`) at weight 0.1 / 0.3.

    python -m benchmarks.bench_active_learning [--seeds 3] [--pool 4000] [--eval 2000]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.fmnist import DEFAULT_SOURCE, _demo_builder

WORK = common.BENCH_DIR / "active-learning"
STRATEGIES = ("random", "entropy", "margin", "k-center", "mix-entropy", "mix-0.5", "workbench", "uniq-0.1", "uniq-0.3")
#: Labelled images after each round.
SCHEDULE = (50, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000)


def images(per_class: int, seed: int) -> tuple[list[str], np.ndarray, list[str]]:
    """``per_class`` t10k images of each class as PNGs under ``WORK/images`` (written once)."""
    from PIL import Image

    demo = _demo_builder()
    data, labels = demo.load_split(DEFAULT_SOURCE, "test")
    rng = np.random.default_rng(seed)
    rows = np.concatenate([rng.choice(np.flatnonzero(labels == k), per_class, replace=False)
                           for k in range(len(demo.CLASSES))])
    rows = rng.permutation(rows)
    folder = WORK / "images"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in rows:
        path = folder / f"t10k-{int(i):05d}.png"
        if not path.exists():
            Image.fromarray(np.asarray(data[i], dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths, labels[rows].astype(np.int64), list(demo.CLASSES)


def embed(paths: list[str]) -> np.ndarray:
    """The audit's EfficientNet-Lite0 vectors (its compiled runtime when it matches), cached under ``WORK``."""
    from workbench.config import EmbedderConfig
    from workbench.embeddings.backends import load_embedder
    from workbench.embeddings.pipeline import embed_files

    hashes = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]
    embedder = load_embedder(EmbedderConfig(name="efficientnet-lite0", cache_dir=str(WORK / "cache")))
    emb = embed_files(paths, paths, hashes, embedder, cache_dir=str(WORK / "cache"), progress=False)
    if len(emb.ids) != len(paths):
        raise RuntimeError(f"{len(paths) - len(emb.ids)} images failed to embed")
    return emb.vectors


def accuracy(vectors: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray, k: int) -> float:
    from workbench.checks.probe import fitted_probabilities

    probs = fitted_probabilities(vectors[train], labels[train], vectors[test], k)
    return float((probs.argmax(1) == labels[test]).mean())


def pool_uniqueness(vectors: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Per row of ``vectors``, its uniqueness among the pool (0 outside it), from a 10-NN graph of the pool."""
    from workbench.checks.neighbors import knn_graph
    from workbench.checks.selection_rank import uniqueness

    graph = knn_graph(vectors[pool], k=10)
    out = np.zeros(len(vectors))
    out[pool] = uniqueness(graph.indices, graph.distances)
    return out


def next_batch(strategy: str, vectors: np.ndarray, labels: np.ndarray, pool: np.ndarray, labelled: np.ndarray,
               size: int, rng: np.random.Generator, classes: list[str], unique: np.ndarray | None = None) -> np.ndarray:
    """``size`` pool rows (indices into ``vectors``) the strategy picks, none of them labelled yet."""
    from workbench.checks.selection import SelectionOptions, select_next

    rest = np.setdiff1d(pool, labelled)
    if strategy == "random":
        return rng.choice(rest, size, replace=False)
    rows = np.concatenate([labelled, rest])
    given = [classes[labels[i]] for i in labelled] + [None] * len(rest)
    options = {"entropy": SelectionOptions(budget=size, uncertainty="entropy", w_diversity=0.0, shortlist=0),
               "margin": SelectionOptions(budget=size, uncertainty="margin", w_diversity=0.0, shortlist=0),
               "k-center": SelectionOptions(budget=size, w_uncertainty=0.0, shortlist=0),
               "mix-entropy": SelectionOptions(budget=size, uncertainty="entropy", shortlist=0),
               "mix-0.5": SelectionOptions(budget=size, w_uncertainty=0.5, w_diversity=0.5),
               "workbench": SelectionOptions(budget=size),
               "uniq-0.1": SelectionOptions(budget=size, w_uniqueness=0.1),
               "uniq-0.3": SelectionOptions(budget=size, w_uniqueness=0.3)}[strategy]
    ids = [str(i) for i in rows]
    batch = select_next(ids, ids, given, vectors[rows], None, options=options,
                        unique=unique[rows] if unique is not None and strategy.startswith("uniq") else None)
    return np.array([int(p.sample_id) for p in batch.picks], dtype=np.int64)


def run_seed(vectors: np.ndarray, labels: np.ndarray, classes: list[str], pool: np.ndarray, held_out: np.ndarray,
             strategy: str, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    labelled = rng.choice(pool, SCHEDULE[0], replace=False)
    unique = pool_uniqueness(vectors, pool) if strategy.startswith("uniq") else None
    curve = [accuracy(vectors, labels, labelled, held_out, len(classes))]
    for size in SCHEDULE[1:]:
        labelled = np.concatenate([labelled, next_batch(strategy, vectors, labels, pool, labelled,
                                                        size - len(labelled), rng, classes, unique)])
        curve.append(accuracy(vectors, labels, labelled, held_out, len(classes)))
    return curve


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--pool", type=int, default=4000)
    p.add_argument("--eval", type=int, default=2000)
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    args = p.parse_args(argv)
    per_class = (args.pool + args.eval) // 10
    paths, labels, classes = images(per_class, 20261203)
    t0 = time.perf_counter()
    vectors = embed(paths)
    embed_s = time.perf_counter() - t0
    pool, held_out = np.arange(args.pool), np.arange(args.pool, args.pool + args.eval)
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    curves: dict[str, list[list[float]]] = {}
    for strategy in strategies:
        t = time.perf_counter()
        curves[strategy] = [run_seed(vectors, labels, classes, pool, held_out, strategy, seed)
                            for seed in range(args.seeds)]
        print(f"{strategy}: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    mean = {s: np.mean(c, axis=0) for s, c in curves.items()}
    rows = [[n, *(f"{mean[s][k]:.3f}" for s in strategies)] for k, n in enumerate(SCHEDULE)]
    print(common.markdown_table(["labels", *strategies], rows))
    area = {s: float(np.trapezoid(mean[s], SCHEDULE) / (SCHEDULE[-1] - SCHEDULE[0])) for s in strategies}
    print("\nmean accuracy over the curve: " + ", ".join(f"{s} {a:.4f}" for s, a in area.items()))
    if "random" in mean:
        for s in strategies:
            reach = next((n for n, a in zip(SCHEDULE, mean[s]) if a >= mean["random"][-1]), None)
            print(f"{s}: reaches random's accuracy at {SCHEDULE[-1]} labels ({mean['random'][-1]:.3f}) with "
                  f"{reach if reach is not None else 'more than ' + str(SCHEDULE[-1])} labels")
    out = common.write_json(common.BENCH_DIR / f"active-learning-{common.timestamp()}.json", {
        "machine": common.machine_info(("numpy", "scipy", "onnxruntime", "openvino")),
        "pool": args.pool, "eval": args.eval, "seeds": args.seeds, "schedule": SCHEDULE,
        "embed_seconds": round(embed_s, 1), "curves": curves, "mean": {s: m.tolist() for s, m in mean.items()},
        "area": area})
    print(f"\n{out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

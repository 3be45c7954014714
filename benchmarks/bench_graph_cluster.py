"""The k-NN graph on a Dask cluster (issue 14, item 5): 10M x 512 on this machine's disk.

The data is generated block by block straight to disk as float16 ``.npy`` files (never all in
memory), from the same model as :mod:`benchmarks.synthetic`: ``sqrt(N)`` clustered centres
sharing one direction, each cluster with its own spread and low-rank subspace; 1% of rows are
planted near copies (cosine distance uniform in ``[0.001, 0.8 x threshold]``) of an earlier row
of the same or the previous block, 1% decoys just beyond the threshold. The ground truth is
measured on the stored float16 values, read as the graph reads them.

Then :func:`workbench.checks.neighbors_cluster.knn_graph_on_cluster` runs on a ``LocalCluster``
(``--workers`` processes, one thread each), and the graph is scored:

- recall of the planted pairs at the threshold (``graph.pairs_within``);
- decoys reported (must be 0) and reported pairs beyond the threshold (must be 0);
- k-NN recall@10 of ``--queries`` random rows against an exact scan of all rows;
- time per phase, peak heap per task and peak RSS per worker process, the client's peak RSS.

``--compare-single`` also runs the single-machine engine on the same vectors (it needs them all
in memory: use it at 1M, not 10M) and reports whether the graphs are the same.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.bench_graph_cluster --n 1M --compare-single
    .venv/bin/python -m benchmarks.bench_graph_cluster --n 10M --dir /work/bench-10m

Results: a Markdown table on stdout, everything in ``build/bench/graph-cluster-<n>-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.synthetic import DEFAULT_THRESHOLD, parse_count

log = logging.getLogger("bench_graph_cluster")


def _unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def generate(folder: Path, n: int, *, dim: int = 512, block: int = 262_144, threshold: float = DEFAULT_THRESHOLD,
             shared: float = 0.35, seed: int = 0) -> dict:
    """Write ``n`` float16 rows as ``vectors-NNNN.npy`` blocks and the planted pairs; returns the manifest."""
    from workbench.io.vector_blocks import RowStore, npy_block

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_clusters = max(1, round(math.sqrt(n)))
    weights = rng.lognormal(0.0, 0.5, n_clusters)
    weights /= weights.sum()
    deltas = rng.uniform(0.2, 0.6, n_clusters)
    sigmas = np.sqrt(deltas / (1.0 - deltas)).astype(np.float32)
    common_dir = _unit(rng.standard_normal((1, dim)))[0]
    centres = _unit(math.sqrt(shared) * common_dir
                    + math.sqrt(1 - shared) * _unit(rng.standard_normal((n_clusters, dim)))).astype(np.float32)
    bases = np.stack([np.linalg.qr(rng.standard_normal((dim, 8)))[0].T for _ in range(n_clusters)]).astype(np.float32)
    planted, decoys = [], []
    pool_rows = np.zeros(0, np.int64)
    pool_vecs = np.zeros((0, dim), np.float32)
    start = 0
    files = []
    t0 = time.perf_counter()
    for b, first in enumerate(range(0, n, block)):
        m = min(block, n - first)
        n_copy = max(1, m // 100)  # planted pairs and, as many, decoys
        n_base = m - 2 * n_copy
        x = np.empty((m, dim), np.float32)
        order = rng.permutation(m)  # where each generated row lands in the block
        clusters = rng.choice(n_clusters, n_base, p=weights)
        by_cluster = np.argsort(clusters, kind="stable")
        cuts = np.flatnonzero(np.diff(clusters[by_cluster])) + 1
        for part in np.split(by_cluster, cuts):
            k = int(clusters[part[0]])
            noise = rng.standard_normal((len(part), dim), dtype=np.float32) * (sigmas[k] * math.sqrt(0.5 / dim))
            noise += (rng.standard_normal((len(part), 8), dtype=np.float32) * (sigmas[k] * math.sqrt(0.5 / 8))) @ bases[k]
            noise += centres[k]
            x[order[part]] = _unit(noise)
        base_rows = order[:n_base]
        # sources: half from this block, half from the previous block's kept rows (pairs across blocks)
        here = rng.choice(n_base, 2 * n_copy, replace=False)
        src_rows = first + base_rows[here]
        src_vecs = x[base_rows[here]].astype(np.float64)
        if len(pool_rows):
            take = rng.choice(len(pool_rows), n_copy, replace=False)
            src_rows[::2][:n_copy] = pool_rows[take][:len(src_rows[::2])]
            src_vecs[::2][:n_copy] = pool_vecs[take][:len(src_vecs[::2])]
        targets = np.concatenate([rng.uniform(0.001, 0.8 * threshold, n_copy),
                                  rng.uniform(1.1 * threshold, 2.0 * threshold, n_copy)])
        s = _unit(src_vecs)
        u = rng.standard_normal(s.shape)
        u -= np.einsum("ij,ij->i", u, s)[:, None] * s
        u = _unit(u)
        cos = 1.0 - targets[:, None]
        copy_rows = order[n_base:]
        x[copy_rows] = (cos * s + np.sqrt(1 - cos ** 2) * u).astype(np.float32)
        pairs = np.stack([src_rows, first + copy_rows], axis=1)
        planted.append(pairs[:n_copy])
        decoys.append(pairs[n_copy:])
        keep = rng.choice(n_base, min(n_base, 4 * n_copy), replace=False)
        pool_rows, pool_vecs = first + base_rows[keep], x[base_rows[keep]].copy()
        path = folder / f"vectors-{b:04d}.npy"
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(m, dim))
        out[:] = x
        out.flush()
        del out
        files.append(path.name)
        start += m
        if b % 8 == 0:
            log.info("generated %d / %d rows (%.0f s)", start, n, time.perf_counter() - t0)
    planted_pairs, decoy_pairs = np.concatenate(planted), np.concatenate(decoys)
    store = RowStore([npy_block(folder / f) for f in files])

    def distances(p: np.ndarray) -> np.ndarray:  # as the graph reads the float16 rows
        out = np.empty(len(p))
        for a in range(0, len(p), 65536):
            q = p[a:a + 65536]
            oa, ob = np.argsort(q[:, 0]), np.argsort(q[:, 1])
            va = np.empty((len(q), store.dim), np.float32)
            vb = np.empty_like(va)
            va[oa], vb[ob] = store.gather(q[oa, 0]), store.gather(q[ob, 1])
            out[a:a + 65536] = 1.0 - np.einsum("ij,ij->i", va.astype(np.float64), vb.astype(np.float64))
        return out

    (folder / "truth").mkdir(exist_ok=True)  # a subfolder: the graph reads only the .npy files of folder
    np.save(folder / "truth" / "planted.npy", planted_pairs)
    np.save(folder / "truth" / "decoys.npy", decoy_pairs)
    manifest = {"n": n, "dim": dim, "block": block, "threshold": threshold, "seed": seed, "files": files,
                "n_planted": int(len(planted_pairs)), "n_decoys": int(len(decoy_pairs)),
                "planted_max_distance": float(distances(planted_pairs).max()),
                "decoy_min_distance": float(distances(decoy_pairs).min()),
                "generate_seconds": round(time.perf_counter() - t0, 1)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _pair_keys(p: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(p[:, 0], p[:, 1]) * n + np.maximum(p[:, 0], p[:, 1])


def knn_recall(store, graph, queries: np.ndarray, k: int) -> float:
    """Share of the exact ``k`` nearest of ``queries`` (a scan of every row) the graph holds."""
    q = store.gather(np.sort(queries))
    best_sim = np.full((len(q), k), -np.inf, np.float32)
    best_idx = np.full((len(q), k), -1, np.int64)
    for a in range(0, store.n, 262_144):
        rows = np.arange(a, min(store.n, a + 262_144))
        sims = q @ store.gather(rows).T
        sims[np.sort(queries)[:, None] == rows[None, :]] = -np.inf
        sim = np.concatenate([best_sim, sims], axis=1)
        idx = np.concatenate([best_idx, np.broadcast_to(rows, sims.shape)], axis=1)
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        best_sim, best_idx = np.take_along_axis(sim, top, 1), np.take_along_axis(idx, top, 1)
    got = np.asarray(graph.indices[np.sort(queries)])
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(got.tolist(), best_idx.tolist())]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", default="10M", type=parse_count)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--dir", type=Path, help="data and graph folder (default build/bench/graph-<n>)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--queries", type=int, default=200, help="rows whose k-NN recall is checked by a full scan")
    p.add_argument("--compare-single", action="store_true", help="also run the single-machine engine")
    p.add_argument("--keep", action="store_true", help="keep the generated vectors and graph")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("distributed").setLevel(logging.WARNING)
    from workbench.checks.neighbors_cluster import knn_graph_on_cluster
    from workbench.io.vector_blocks import RowStore, open_blocks

    info = common.machine_info(["numpy", "faiss-cpu", "dask", "distributed"])
    folder = args.dir or Path("build/bench") / f"graph-{args.n}"
    data = folder / "vectors"
    manifest_path = data / "manifest.json"
    if manifest_path.exists() and json.loads(manifest_path.read_text())["n"] == args.n:
        manifest = json.loads(manifest_path.read_text())
        log.info("reusing the vectors in %s", data)
    else:
        shutil.rmtree(data, ignore_errors=True)
        manifest = generate(data, args.n, dim=args.dim)
    blocks, _ = open_blocks([data])
    report = knn_graph_on_cluster(blocks, folder / "graph", k=10, local_workers=args.workers)
    graph = report.graph()
    threshold = manifest["threshold"]
    started = time.perf_counter()
    lo, hi, d = graph.pairs_within(threshold)
    found = np.isin(_pair_keys(np.load(data / "truth" / "planted.npy"), args.n), lo * args.n + hi)
    decoys = np.isin(_pair_keys(np.load(data / "truth" / "decoys.npy"), args.n), lo * args.n + hi)
    pairs_seconds = time.perf_counter() - started
    client_peak = common.vm_hwm_mb("self")  # before the recall scan below maps every vector
    store = RowStore(blocks)
    queries = np.random.default_rng(1).choice(args.n, args.queries, replace=False)
    recall10 = knn_recall(store, graph, queries, 10)
    result = {"machine": info, "manifest": manifest, "report": report.to_dict(),
              "planted_found": int(found.sum()), "planted": int(len(found)), "decoys_reported": int(decoys.sum()),
              "pairs_reported": int(len(lo)), "pairs_beyond_threshold": int((d > threshold).sum()),
              "pairs_within_seconds": round(pairs_seconds, 2), "knn_recall_at_10": recall10,
              "client_peak_rss_mb": client_peak}
    if args.compare_single:
        from workbench.checks.neighbors import knn_graph

        x = store.read(0, args.n)
        started = time.perf_counter()
        single = knn_graph(x, 10, method="ivf")
        result["single_seconds"] = round(time.perf_counter() - started, 2)
        result["same_indices_share"] = float((np.asarray(graph.indices) == single.indices).mean())
        result["max_distance_difference"] = float(np.abs(np.asarray(graph.distances) - single.distances).max())
    out = Path("build/bench") / f"graph-cluster-{args.n}-{common.timestamp()}.json"
    common.write_json(out, result)
    w = report.workers
    print(common.markdown_table(
        ["N x D", "workers", "lists", "groups", "train s", "assign s", "search s", "merge s", "write s", "total s",
         "max heap/task MB", "max worker RSS MB", "planted found", "decoys", "recall@10"],
        [[f"{args.n:,} x {manifest['dim']}", len(w), report.nlist, report.n_groups, report.seconds["train"],
          report.seconds["assign"], report.seconds["search"], report.seconds["merge"], report.seconds["write"],
          report.seconds["total"], max(v["heap_peak_mb"] for v in w.values()),
          max(v["rss_peak_mb"] for v in w.values()), f"{int(found.sum())}/{len(found)}", int(decoys.sum()),
          f"{recall10:.3f}"]]))
    print(json.dumps({k: v for k, v in result.items() if k not in ("machine", "report")}, indent=1))
    print(f"written: {out}")
    if not args.keep:
        shutil.rmtree(folder / "graph", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

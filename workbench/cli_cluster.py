"""The Dask subcommands of ``workbench``: ``embed`` files into the cache and build the neighbour ``graph``.

Both run on a scheduler (``--scheduler ADDRESS``) or on a temporary local cluster
(``--local-workers N``), and follow :mod:`workbench.cli`'s exit codes.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import sys
from pathlib import Path

from workbench.cli_options import bounded_float, bounded_int, embedder_config, positive_int
from workbench.io.outputs import replaced_atomically, save_npy_atomic, write_text_atomic

#: What ``workbench graph`` writes in ``--out``; an existing one is replaced only with ``--overwrite``.
GRAPH_FILES = ("knn-indices.npy", "knn-distances.npy", "knn-hashes.npy", "pairs.csv", "graph.json")


def _where_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler to run on, e.g. tcp://host:8786")
    where.add_argument("--local-workers", type=positive_int, metavar="N",
                       help="start a local cluster of N worker processes (default 2)")


def _quiet_dask(verbose: bool) -> None:
    if not verbose:
        with contextlib.suppress(ImportError):  # importing distributed sets its loggers to INFO
            import distributed  # noqa: F401
        logging.getLogger("distributed").setLevel(logging.WARNING)


def add_embed_parser(sub) -> None:
    from workbench.config import PRECISIONS, RUNTIMES
    from workbench.embeddings.registry import embedder_names

    e = sub.add_parser("embed", help="embed image files on a Dask cluster into the (shared) embedding cache")
    e.add_argument("paths", nargs="+", metavar="PATH", help="image files, or folders searched recursively")
    _where_options(e)
    e.add_argument("--embedder", default="auto", choices=embedder_names(include_none=False))
    e.add_argument("--clip-model", default="ViT-B-32")
    e.add_argument("--clip-pretrained", default="laion2b_s34b_b79k",
                   help="open_clip pretrained tag; 'none' for untrained weights (tests only)")
    e.add_argument("--clip-checkpoint", help="open_clip checkpoint file (same path on every worker)")
    e.add_argument("--cache-dir", help="embedding cache folder every worker can write (default $WORKBENCH_CACHE "
                                       "or ~/.cache/workbench)")
    e.add_argument("--partition-size", type=positive_int, default=512,
                   help="at most this many files per task; each task writes one cache shard")
    e.add_argument("--batch-size", type=positive_int, default=64)
    e.add_argument("--device", help="torch device on the workers (default: cuda when present, else cpu)")
    e.add_argument("--precision", default="auto", choices=PRECISIONS)
    e.add_argument("--runtime", default="auto", choices=RUNTIMES, help="what runs the model on the workers' CPUs")
    e.add_argument("--quiet", action="store_true", help="no progress bars")


def add_graph_parser(sub) -> None:
    g = sub.add_parser("graph", help="build the k-NN graph of many vectors on a Dask cluster (beyond one "
                                     "machine's memory)")
    g.add_argument("inputs", nargs="+", metavar="VECTORS",
                   help=".npy files (float16/float32, one row per vector), folders of them, or one embedding "
                        "cache folder (<cache>/embeddings/<key>, the one holding meta.json)")
    g.add_argument("--out", required=True, metavar="DIR",
                   help="folder for the graph (every worker must see it at this path)")
    _where_options(g)
    g.add_argument("-k", type=bounded_int(1, 1000), default=10, help="neighbours per vector (default 10)")
    g.add_argument("--nprobe", type=bounded_int(1, 65536), metavar="N",
                   help="inverted lists visited per vector (default 4)")
    g.add_argument("--threshold", type=bounded_float(0.0, 2.0), metavar="D",
                   help="also write pairs.csv: the pairs within cosine distance D among each vector's k nearest "
                        "(a vector with more than k such copies lists its k nearest; raise -k)")
    g.add_argument("--overwrite", action="store_true", help="replace the graph files already in --out")


def run_embed(args: argparse.Namespace) -> int:
    """``workbench embed``: files to the embedding cache on a Dask cluster."""
    from workbench.embeddings.distributed import embed_files_distributed
    from workbench.io.sources import IMAGE_SUFFIXES, find_image_files

    if not args.verbose:
        with contextlib.suppress(ImportError):  # importing distributed sets its loggers to INFO
            import distributed  # noqa: F401
        logging.getLogger("distributed").setLevel(logging.WARNING)
    files = find_image_files(args.paths)
    if not files:
        print(f"workbench: error: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) under "
              f"{' '.join(args.paths)}", file=sys.stderr)
        return 2
    config = embedder_config(args)
    local_workers = args.local_workers or 2  # None when not given: argparse can then tell it from --scheduler
    where = args.scheduler or f"a local cluster of {local_workers} worker processes"
    print(f"workbench embed: {len(files)} files on {where}")
    r = embed_files_distributed(files, config, client=args.scheduler, local_workers=local_workers,
                                partition_size=args.partition_size, progress=not args.quiet)
    print(f"embeddings     {r.model_id}")
    if r.fallback_reason:
        print(f"  ! FALLBACK: {r.fallback_reason}")
    print(f"files          {r.n_files} ({r.n_computed} computed, {r.n_cached} cached, {r.n_failed} failed)")
    print(f"cache          {r.cache_dir} ({r.n_shards_written} shards written)")
    for path, message in list(r.failed.items())[:20]:
        print(f"  failed: {path}: {message}")
    if r.n_failed > 20:
        print(f"  ... and {r.n_failed - 20} more")
    rate = f", {r.n_computed / r.embed_seconds:.1f} files/s" if r.n_computed and r.embed_seconds > 0 else ""
    print(f"time           {r.seconds:.1f} s (starting the workers, loading the model and hashing "
          f"{r.hash_seconds:.1f} s; embedding {r.embed_seconds:.1f} s{rate})")
    return 0


def run_graph(args: argparse.Namespace) -> int:
    """``workbench graph``: the k-NN graph of vectors on disk, on a Dask cluster."""
    from workbench.checks.neighbors_cluster import knn_graph_on_cluster
    from workbench.io.outputs import OutputPathError, check_output_path
    from workbench.io.vector_blocks import open_blocks

    _quiet_dask(args.verbose)
    out = Path(args.out).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"--out {out} is a file; give a folder for the graph")
    check_output_path(out / GRAPH_FILES[0], what="--out")
    for raw in args.inputs:
        folder = Path(raw).expanduser().resolve()
        folder = folder if folder.is_dir() else folder.parent
        resolved = out.resolve()
        if resolved == folder or folder in resolved.parents or resolved in folder.parents:
            raise OutputPathError(f"--out {out} and the input folder {folder} are inside one another; workbench "
                                  "never writes among its inputs: choose a folder outside them")
    present = [name for name in GRAPH_FILES if (out / name).exists()]
    if present and not args.overwrite:
        raise OutputPathError(f"--out {out} already holds {', '.join(present)}; pass --overwrite to replace "
                              "them, or choose another folder")
    blocks, hashes = open_blocks(args.inputs)
    n, dim = sum(b.n for b in blocks), blocks[0].dim
    local_workers = args.local_workers or 2
    from workbench.checks.neighbors import EXACT_MAX_ROWS

    if n <= EXACT_MAX_ROWS and args.scheduler:
        from workbench.dask_cluster import probe_scheduler

        probe_scheduler(args.scheduler)  # not needed for so few vectors, but a wrong address is still an error
    where = ("searched exactly in this process (up to 10,000 vectors)" if n <= EXACT_MAX_ROWS
             else "on " + (args.scheduler or f"a local cluster of {local_workers} worker processes"))
    print(f"workbench graph: {n:,} vectors ({dim}-d, {len(blocks)} block{'s' if len(blocks) != 1 else ''}) {where}")
    stale = sorted(out.glob(".knn-work-*")) if out.is_dir() else []
    created = not out.exists()
    try:
        r = knn_graph_on_cluster(blocks, out, k=args.k, nprobe=args.nprobe, client=args.scheduler,
                                 local_workers=local_workers)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # nothing was written: leave no empty folder behind
        raise
    written = [r.indices_path, r.distances_path]
    if hashes is not None:
        import numpy as np

        save_npy_atomic(out / "knn-hashes.npy", np.concatenate(hashes).astype("S64"))
        written.append(str(out / "knn-hashes.npy"))
    pairs = _write_pairs(r, blocks, hashes, out / "pairs.csv", args.threshold) if args.threshold is not None else None
    names = {Path(p).name for p in written} | {"graph.json"} | ({"pairs.csv"} if pairs else set())
    for name in present:  # an earlier graph's files this run did not replace (--overwrite)
        if name not in names:
            (out / name).unlink(missing_ok=True)
    summary = {**r.to_dict(), "inputs": [{"path": b.label, "rows": b.n} for b in blocks],
               "threshold": args.threshold, "pairs": pairs[0] if pairs else None,
               "rows_with_all_k_within_threshold": pairs[1] if pairs else None}
    write_text_atomic(out / "graph.json", json.dumps(summary, indent=1))
    _print_graph_summary(r, written, out, args.threshold, pairs, stale)
    return 0


def _print_graph_summary(r, written: list[str], out: Path, threshold: float | None, pairs: tuple[int, int] | None,
                         stale: list[Path]) -> None:
    s = r.seconds
    if r.method == "ivf":
        print(f"lists          {r.nlist} ({r.nprobe} visited per vector), {r.n_groups} list groups, "
              f"{r.n_parts} row ranges")
        print(f"time           {s['total']:.1f} s (train {s['train']:.1f}, assign {s['assign']:.1f}, search "
              f"{s['search']:.1f}, merge {s['merge']:.1f}, write {s['write']:.1f})")
        heap = max((w["heap_peak_mb"] for w in r.workers.values()), default=0.0)
        rss = max((w["rss_peak_mb"] for w in r.workers.values()), default=0.0)
        print(f"memory         largest task heap {heap:,.0f} MB; largest worker peak RSS {rss:,.0f} MB "
              f"({len(r.workers)} workers)")
    else:
        print(f"time           {s['total']:.1f} s (exact search)")
    print(f"graph          {', '.join(written)} (k={r.k})")
    if r.empty_slots:
        share = r.empty_slots / (r.n * r.k)
        print(f"  ! {r.empty_slots:,} neighbour slots ({share:.1%}) are empty (-1): those vectors found fewer than "
              f"k={r.k} candidates in the lists they visited; lower -k or raise --nprobe")
    if pairs is not None:
        print(f"pairs          {pairs[0]:,} within {threshold:g}: {out / 'pairs.csv'}")
        if pairs[1]:
            print(f"  ! {pairs[1]:,} vectors have all {r.k} neighbours within {threshold:g}: they may have more near "
                  f"copies than pairs.csv lists (it holds pairs among each vector's k nearest); raise -k")
    print(f"summary        {out / 'graph.json'}")
    for folder in stale:
        print(f"  ! {folder} is the work folder of an earlier run that was stopped; remove it")


def _write_pairs(report, blocks, hashes, path: Path, threshold: float) -> tuple[int, int]:
    """Pairs within ``threshold`` among each vector's k nearest, as CSV (rows, distance, where each vector
    came from: its content hash, or its file and row); returns ``(pairs, vectors whose k-th neighbour is
    within the threshold)``."""
    import numpy as np

    from workbench.io.vector_blocks import RowStore

    graph = report.graph()
    lo, hi, d = graph.pairs_within(threshold)
    saturated = int((np.asarray(graph.distances[:, -1]) <= threshold).sum()) if graph.k else 0
    order = np.lexsort((hi, lo, d))
    store = RowStore(blocks)
    flat = np.concatenate(hashes) if hashes is not None else None
    with replaced_atomically(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["row_a", "row_b", "distance", "hash_a", "hash_b"] if flat is not None else
                   ["row_a", "row_b", "distance", "file_a", "file_row_a", "file_b", "file_row_b"])
        for i, j, dist in zip(lo[order].tolist(), hi[order].tolist(), d[order].tolist()):
            where = [str(flat[i]), str(flat[j])] if flat is not None else [*store.locate(i), *store.locate(j)]
            w.writerow([i, j, f"{dist:.6f}", *where])
    return int(len(lo)), saturated

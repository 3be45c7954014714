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
import os
import sys
from pathlib import Path

from workbench.cli_options import bounded_float, bounded_int, embedder_config, positive_int

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
                   help="also write pairs.csv: every pair of vectors within cosine distance D")
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
        if out.resolve() == folder or folder in out.resolve().parents:
            raise OutputPathError(f"--out {out} is inside the input folder {folder}; workbench never writes among "
                                  "its inputs: choose a folder outside it")
    present = [name for name in GRAPH_FILES if (out / name).exists()]
    if present and not args.overwrite:
        raise OutputPathError(f"--out {out} already holds {', '.join(present)}; pass --overwrite to replace "
                              "them, or choose another folder")
    blocks, hashes = open_blocks(args.inputs)
    n, dim = sum(b.n for b in blocks), blocks[0].dim
    local_workers = args.local_workers or 2
    where = args.scheduler or f"a local cluster of {local_workers} worker processes"
    print(f"workbench graph: {n:,} vectors ({dim}-d, {len(blocks)} blocks) on {where}")
    for name in present:
        (out / name).unlink()
    r = knn_graph_on_cluster(blocks, out, k=args.k, nprobe=args.nprobe, client=args.scheduler,
                             local_workers=local_workers)
    written = [r.indices_path, r.distances_path]
    if hashes is not None:
        import numpy as np

        np.save(out / "knn-hashes.npy", np.concatenate(hashes).astype("S64"))
        written.append(str(out / "knn-hashes.npy"))
    n_pairs = _write_pairs(r, blocks, hashes, out / "pairs.csv", args.threshold) if args.threshold is not None else None
    summary = {**r.to_dict(), "inputs": [{"path": b.label, "rows": b.n} for b in blocks],
               "threshold": args.threshold, "pairs": n_pairs}
    (out / "graph.json").write_text(json.dumps(summary, indent=1))
    s = r.seconds
    print(f"lists          {r.nlist} ({r.nprobe} visited per vector), {r.n_groups} list groups, "
          f"{r.n_parts} row ranges")
    print(f"time           {s['total']:.1f} s (train {s['train']:.1f}, assign {s['assign']:.1f}, search "
          f"{s['search']:.1f}, merge {s['merge']:.1f}, write {s['write']:.1f})")
    heap = max((w["heap_peak_mb"] for w in r.workers.values()), default=0.0)
    rss = max((w["rss_peak_mb"] for w in r.workers.values()), default=0.0)
    print(f"memory         largest task heap {heap:,.0f} MB; largest worker peak RSS {rss:,.0f} MB "
          f"({len(r.workers)} workers)")
    print(f"graph          {', '.join(written)} (k={r.k})")
    if n_pairs is not None:
        print(f"pairs          {n_pairs:,} within {args.threshold:g}: {out / 'pairs.csv'}")
    print(f"summary        {out / 'graph.json'}")
    return 0


def _write_pairs(report, blocks, hashes, path: Path, threshold: float) -> int:
    """Pairs within ``threshold`` as CSV: rows, distance, and where each vector came from."""
    import numpy as np

    from workbench.io.vector_blocks import RowStore

    lo, hi, d = report.graph().pairs_within(threshold)
    order = np.lexsort((hi, lo, d))
    store = RowStore(blocks)
    flat = np.concatenate(hashes) if hashes is not None else None
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["row_a", "row_b", "distance", "source_a", "source_b"])
        for i, j, dist in zip(lo[order].tolist(), hi[order].tolist(), d[order].tolist()):
            a, b = (str(flat[i]), str(flat[j])) if flat is not None else (store.where(i), store.where(j))
            w.writerow([i, j, f"{dist:.6f}", a, b])
    os.replace(tmp, path)
    return int(len(lo))

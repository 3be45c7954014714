"""The k-NN graph on a Dask cluster: the inverted-list self-join of :func:`workbench.checks.neighbors.knn_graph`
(``ivf``) with lists as the unit of work, for vectors that outgrow one machine's memory.

No process holds all vectors. The client trains the lists on ``16 x nlist`` sampled rows,
then three rounds of tasks (:mod:`workbench.checks.ivf_tasks`) read the vectors as
memory-mapped blocks (:mod:`workbench.io.vector_blocks`) and pass their results through
files in a work folder inside ``out_dir``:

1. assign: row ranges -> each row's nearest lists;
2. search: groups of lists (balanced by their estimated cost) -> every visit's ``k + 1`` best members;
3. merge: row ranges -> each row's ``k`` nearest.

A worker holds one row range's or one list group's arrays at a time, so the cluster's memory
(and disk), not one process's, bounds N. Each task computes what the single-machine engine
computes for its rows or lists, in the same order, so on the same vectors the two graphs are the
same (tested). On several machines, ``out_dir`` and the vector files must be on a filesystem
every worker mounts at the same path (NFS, a cluster filesystem).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from workbench.checks.neighbors import (
    EXACT_MAX_ROWS,
    default_nlist,
    default_nprobe,
    exact_neighbors,
    nearest_lists,
    train_centroids,
    training_rows,
)
from workbench.dask_cluster import connect, processes_per_host
from workbench.graph import NeighborGraph
from workbench.io.outputs import replaced_atomically, save_npy_atomic
from workbench.io.vector_blocks import RowStore, VectorBlock

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

log = logging.getLogger(__name__)

#: Most rows in one assign or merge task (512 MiB of float32 vectors at 512-d).
PART_ROWS = 262_144
#: About this many rows' lists per search task.
GROUP_ROWS = 200_000

INDICES_FILE = "knn-indices.npy"
DISTANCES_FILE = "knn-distances.npy"


@dataclass(frozen=True)
class ClusterGraphReport:
    """What :func:`knn_graph_on_cluster` built and what it cost."""

    n: int
    dim: int
    k: int
    nlist: int
    nprobe: int
    n_parts: int
    n_groups: int
    indices_path: str
    distances_path: str
    seconds: dict[str, float] = field(default_factory=dict)  # train, assign, search, merge, write, total
    #: Per worker process: the largest heap a task of it allocated, and the process's peak RSS.
    workers: dict[str, dict[str, float]] = field(default_factory=dict)
    method: str = "ivf"  # "exact" (small inputs, searched in this process) or "ivf" (on the cluster)
    empty_slots: int = 0  # neighbour slots left -1: rows that found fewer than k candidates

    def graph(self) -> NeighborGraph:
        """The graph, memory-mapped from its files."""
        return NeighborGraph(np.load(self.indices_path, mmap_mode="r"), np.load(self.distances_path, mmap_mode="r"),
                             self.method)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_lists(member_counts: np.ndarray, visitor_counts: np.ndarray, n_groups: int) -> np.ndarray:
    """Starts of ``n_groups`` runs of consecutive lists of about equal cost (members x visitors),
    plus the end: ``[0, ..., nlist]``, strictly increasing.

    Example:
        >>> group_lists(np.array([1, 1, 1, 1]), np.array([1, 1, 1, 1]), 2).tolist()
        [0, 2, 4]
        >>> group_lists(np.array([9, 1, 1, 1]), np.array([9, 1, 1, 1]), 2).tolist()
        [0, 1, 4]
    """
    nlist = len(member_counts)
    n_groups = max(1, min(n_groups, nlist))
    cost = (member_counts.astype(np.float64) + 1) * (visitor_counts.astype(np.float64) + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(cost)])
    # a group ends at the first list whose running cost reaches its share, so a costly list closes its group
    starts = np.searchsorted(cumulative[1:], np.linspace(0, cumulative[-1], n_groups + 1)[1:-1], side="left") + 1
    return np.unique(np.concatenate([[0], np.clip(starts, 0, nlist), [nlist]])).astype(np.int64)


def knn_graph_on_cluster(blocks: list[VectorBlock], out_dir: str | os.PathLike[str], *, k: int = 10,
                         nprobe: int | None = None, seed: int = 0, client: Client | str | None = None,
                         local_workers: int = 2, part_rows: int = PART_ROWS,
                         group_rows: int = GROUP_ROWS, threads: int | None = None,
                         method: Literal["auto", "exact", "ivf"] = "auto") -> ClusterGraphReport:
    """Cosine k-NN graph of the rows of ``blocks`` on a Dask cluster, written to ``out_dir``.

    Args:
        blocks: the vectors (:func:`workbench.io.vector_blocks.open_blocks`), rows in block order.
        out_dir: folder for ``knn-indices.npy`` (int64 ``[N, k]``, ``-1`` pads) and
            ``knn-distances.npy`` (float32, ascending); also holds the work folder while it runs.
            Every worker must see it at this path.
        k: neighbours per row (lowered to ``N - 1``).
        nprobe: lists visited per row (default :func:`default_nprobe`).
        client: a ``distributed.Client``, a scheduler address, or ``None`` for a temporary
            ``LocalCluster`` of ``local_workers`` processes.
        part_rows: most rows per assign and merge task; group_rows: rows' lists per search task.
        method: ``auto`` searches up to :data:`~workbench.checks.neighbors.EXACT_MAX_ROWS` rows exactly in
            this process (as the audit does; no cluster is used) and runs ``ivf`` on the cluster above.
        threads: BLAS threads per task (default: each worker's share of its host's cores). The
            graph equals the single-machine one bit for bit when both run with the same thread
            count; otherwise a distance may differ in its last float32 bit (BLAS sums in another order).

    Raises:
        VectorInputError: a vector is not finite or all zeros (found by the task that reads it).
        DistributedError: Dask is missing or the scheduler can't be reached.

    Example:
        >>> blocks, _ = open_blocks(["vectors.npy"])  # doctest: +SKIP
        >>> report = knn_graph_on_cluster(blocks, "graph/", client="tcp://scheduler:8786")  # doctest: +SKIP
        >>> report.graph().pairs_within(0.05)  # doctest: +SKIP
    """
    from workbench.checks import ivf_tasks

    t0 = time.perf_counter()
    store = RowStore(blocks)
    n, dim = store.n, store.dim
    k = max(1, min(k, n - 1))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if method == "exact" or (method == "auto" and n <= EXACT_MAX_ROWS):
        return _exact_here(store, out, k, t0)
    nlist = default_nlist(n)
    probe = int(min(nlist, nprobe or default_nprobe(nlist)))
    work = out / f".knn-work-{uuid.uuid4().hex[:12]}"
    seconds: dict[str, float] = {}
    stats: list[ivf_tasks.TaskStats] = []
    with connect(client, local_workers) as dask_client:  # first: a wrong address costs no training
        work.mkdir()
        try:
            started = time.perf_counter()
            train = store.gather(training_rows(n, nlist, seed))
            centroids = train_centroids(train, nlist, seed)
            np.save(work / "centroids.npy", centroids)
            sample = nearest_lists(train, centroids, probe)
            del train
            part_starts = np.arange(0, n, max(1, part_rows), dtype=np.int64)
            n_parts = len(part_starts)
            seconds["train"] = time.perf_counter() - started
            shares = processes_per_host(dask_client)
            slots = max(1, sum(dask_client.nthreads().values()))
            n_groups = max(math.ceil(n / max(1, group_rows)), 4 * slots)
            group_starts = group_lists(np.bincount(sample[:, 0], minlength=nlist),
                                       np.bincount(sample.ravel(), minlength=nlist), n_groups)
            n_groups = len(group_starts) - 1

            def run(phase: str, fn, calls: list[tuple]) -> None:
                started = time.perf_counter()
                futures = [dask_client.submit(fn, *args, shares=shares, threads=threads, pure=False,
                                              key=f"workbench-knn-{phase}-{i}-{work.name}")
                           for i, args in enumerate(calls)]
                stats.extend(f.result() for f in futures)
                seconds[phase] = time.perf_counter() - started
                log.info("k-NN on the cluster: %s, %d tasks, %.1f s", phase, len(calls), seconds[phase])

            bounds = [(int(s), int(min(n, s + part_rows))) for s in part_starts]
            run("assign", ivf_tasks.assign_block,
                [(store, str(work), p, a, b, probe, group_starts) for p, (a, b) in enumerate(bounds)])
            row_starts = np.append(part_starts, n)
            run("search", ivf_tasks.search_group,
                [(store, str(work), g, int(group_starts[g]), int(group_starts[g + 1]), n_parts, k + 1, row_starts)
                 for g in range(n_groups)])
            run("merge", ivf_tasks.merge_block,
                [(str(work), p, a, b, n_groups, probe, k) for p, (a, b) in enumerate(bounds)])
            started = time.perf_counter()
            indices_path, distances_path = _assemble(work, out, bounds, n, k)
            seconds["write"] = time.perf_counter() - started
        finally:
            shutil.rmtree(work, ignore_errors=True)
    seconds["total"] = time.perf_counter() - t0
    workers: dict[str, dict[str, float]] = {}
    for s in stats:
        w = workers.setdefault(s.worker, {"heap_peak_mb": 0.0, "rss_peak_mb": 0.0, "tasks": 0})
        w["heap_peak_mb"] = max(w["heap_peak_mb"], round(s.heap_peak_mb, 1))
        w["rss_peak_mb"] = max(w["rss_peak_mb"], round(s.rss_peak_mb, 1))
        w["tasks"] += 1
    log.info("k-NN on the cluster: %d rows, %d lists, %d groups, %.1f s", n, nlist, n_groups, seconds["total"])
    return ClusterGraphReport(n, dim, k, nlist, probe, n_parts, n_groups, str(indices_path), str(distances_path),
                              {key: round(v, 3) for key, v in seconds.items()}, workers, "ivf",
                              sum(s.empty_slots for s in stats))


def _exact_here(store: RowStore, out: Path, k: int, t0: float) -> ClusterGraphReport:
    """Few rows: the exact search of :func:`knn_graph`, in this process, written like the cluster's graph."""
    x = store.read(0, store.n)
    indices, distances = exact_neighbors(x, np.arange(store.n), k)
    paths = []
    for name, array in ((INDICES_FILE, indices), (DISTANCES_FILE, distances)):
        paths.append(str(save_npy_atomic(out / name, array)))
    total = round(time.perf_counter() - t0, 3)
    return ClusterGraphReport(store.n, store.dim, k, 0, 0, 0, 0, paths[0], paths[1], {"total": total}, {}, "exact",
                              int((indices < 0).sum()))


def _assemble(work: Path, out: Path, bounds: list[tuple[int, int]], n: int, k: int) -> tuple[Path, Path]:
    """Stream the merge tasks' blocks into the two output files (written aside, then renamed)."""
    finals = []
    for name, dtype, piece in ((INDICES_FILE, np.int64, "indices"), (DISTANCES_FILE, np.float32, "distances")):
        with replaced_atomically(out / name) as tmp:
            target = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(n, k))
            for p, (a, b) in enumerate(bounds):
                target[a:b] = np.load(work / f"g{p}-{piece}.npy")
            target.flush()
            del target
        finals.append(out / name)
    return finals[0], finals[1]

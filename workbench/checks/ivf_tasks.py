"""The three kinds of task of the inverted-list self-join on a cluster (:mod:`workbench.checks.neighbors_cluster`).

Each task reads memory-mapped vectors (:class:`workbench.io.vector_blocks.RowStore`) and
the previous phase's files in a work folder every worker sees, writes its own files there,
and returns a small :class:`TaskStats`. They compute exactly what the single-machine engine
(:func:`workbench.checks.neighbors.knn_graph`, ``ivf``) computes, in the same order per list:

1. :func:`assign_block`: a range of rows -> each row's ``probe`` nearest lists, written
   grouped by list group (members: the row's own list; visitors: every list it visits).
2. :func:`search_group`: a group of lists -> for every visit, the ``k + 1`` most similar
   members of the list, written grouped by row range.
3. :func:`merge_block`: a range of rows -> each row's ``k`` nearest of its candidates.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.checks.neighbors import best_k, block_search, cosine_distances, list_candidates, nearest_lists
from workbench.io.outputs import save_npy_atomic
from workbench.io.vector_blocks import RowStore


@dataclass(frozen=True)
class TaskStats:
    """What one task did: its phase and part, rows handled, seconds, peak heap and the process's peak RSS."""

    phase: str
    part: int
    rows: int
    seconds: float
    heap_peak_mb: float  # numpy and Python allocations of this task (tracemalloc)
    rss_peak_mb: float  # the worker process's VmHWM so far (includes mapped pages of the vectors)
    worker: str
    empty_slots: int = 0  # merge: neighbour slots left -1 (rows with fewer than k candidates)


def _vm_hwm_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class _Measured:
    """Times a task and traces its allocations; sets faiss' threads to this worker's share of its host's cores."""

    def __init__(self, phase: str, part: int, shares: dict[str, int], threads: int | None) -> None:
        self.phase, self.part, self.shares, self.threads = phase, part, shares, threads

    def __enter__(self) -> _Measured:
        import faiss

        from workbench.dask_cluster import worker_threads

        faiss.omp_set_num_threads(self.threads or worker_threads(self.shares))
        tracemalloc.start()
        self.start = time.perf_counter()
        return self

    def stats(self, rows: int, empty_slots: int = 0) -> TaskStats:
        _, peak = tracemalloc.get_traced_memory()
        return TaskStats(self.phase, self.part, int(rows), time.perf_counter() - self.start, peak / 2**20,
                         _vm_hwm_mb(), f"{os.uname().nodename}:{os.getpid()}", int(empty_slots))

    def __exit__(self, *exc) -> None:
        tracemalloc.stop()


def _save(folder: Path, name: str, array: np.ndarray) -> None:
    """Written aside and renamed: a retried task never leaves half a file for another to read."""
    save_npy_atomic(folder / f"{name}.npy", array)


def _load(folder: Path, name: str) -> np.ndarray:
    return np.load(folder / f"{name}.npy", mmap_mode="r")


def assign_block(store: RowStore, work: str, part: int, start: int, stop: int, probe: int,
                 group_starts: np.ndarray, shares: dict[str, int], threads: int | None = None) -> TaskStats:
    """Rows ``start .. stop-1``: their nearest lists, members and visits sorted by list, cut by group."""
    folder = Path(work)
    with _Measured("assign", part, shares, threads) as m:
        centroids = np.load(folder / "centroids.npy")
        probes = nearest_lists(store.read(start, stop), centroids, probe).astype(np.int32)
        rows = np.arange(start, stop, dtype=np.int64)
        for kind, lists, who in (("m", probes[:, 0], rows), ("v", probes.ravel(), np.repeat(rows, probe))):
            order = np.argsort(lists, kind="stable")
            lists = lists[order]
            _save(folder, f"a{part}-{kind}rows", who[order])
            _save(folder, f"a{part}-{kind}lists", lists)
            _save(folder, f"a{part}-{kind}bounds", np.searchsorted(lists, group_starts).astype(np.int64))
        store.close()
        return m.stats(stop - start)


def _group_slice(folder: Path, n_parts: int, kind: str, group: int) -> tuple[np.ndarray, np.ndarray]:
    rows, lists = [], []
    for a in range(n_parts):
        bounds = _load(folder, f"a{a}-{kind}bounds")
        lo, hi = int(bounds[group]), int(bounds[group + 1])
        rows.append(np.array(_load(folder, f"a{a}-{kind}rows")[lo:hi]))
        lists.append(np.array(_load(folder, f"a{a}-{kind}lists")[lo:hi]))
    rows_all, lists_all = np.concatenate(rows), np.concatenate(lists)
    order = np.argsort(lists_all, kind="stable")  # by list; rows stay ascending within a list
    return rows_all[order], lists_all[order]


def search_group(store: RowStore, work: str, group: int, first_list: int, end_list: int, n_parts: int,
                 ask: int, row_starts: np.ndarray, shares: dict[str, int], threads: int | None = None) -> TaskStats:
    """Lists ``first_list .. end_list-1``: the ``ask`` best members for every visit, cut by row range."""
    folder = Path(work)
    with _Measured("search", group, shares, threads) as m:
        m_rows, m_lists = _group_slice(folder, n_parts, "m", group)
        v_rows, v_lists = _group_slice(folder, n_parts, "v", group)
        m_cut = np.searchsorted(m_lists, np.arange(first_list, end_list + 1))
        v_cut = np.searchsorted(v_lists, np.arange(first_list, end_list + 1))
        search = block_search()
        cand_idx = np.full((len(v_rows), ask), -1, dtype=np.int32 if store.n < 2**31 else np.int64)
        cand_sim = np.full((len(v_rows), ask), -np.inf, dtype=np.float32)
        for i in range(end_list - first_list):
            visits = slice(v_cut[i], v_cut[i + 1])
            members = m_rows[m_cut[i]:m_cut[i + 1]]
            if visits.stop > visits.start:
                cand_idx[visits], cand_sim[visits] = list_candidates(search, store.gather, members,
                                                                     v_rows[visits], ask)
        order = np.argsort(v_rows, kind="stable")
        v_rows = v_rows[order]
        _save(folder, f"s{group}-rows", v_rows)
        _save(folder, f"s{group}-idx", cand_idx[order])
        _save(folder, f"s{group}-sim", cand_sim[order])
        _save(folder, f"s{group}-bounds", np.searchsorted(v_rows, row_starts).astype(np.int64))
        store.close()
        return m.stats(len(v_rows))


def merge_block(work: str, part: int, start: int, stop: int, n_groups: int, probe: int, k: int,
                shares: dict[str, int], threads: int | None = None) -> TaskStats:
    """Rows ``start .. stop-1``: each row's ``k`` nearest of its ``probe x (k + 1)`` candidates."""
    folder = Path(work)
    with _Measured("merge", part, shares, threads) as m:
        rows, idx, sim = [], [], []
        for g in range(n_groups):
            bounds = _load(folder, f"s{g}-bounds")
            lo, hi = int(bounds[part]), int(bounds[part + 1])
            rows.append(np.array(_load(folder, f"s{g}-rows")[lo:hi]))
            idx.append(np.array(_load(folder, f"s{g}-idx")[lo:hi]))
            sim.append(np.array(_load(folder, f"s{g}-sim")[lo:hi]))
        rows_all = np.concatenate(rows)
        order = np.argsort(rows_all, kind="stable")
        n = stop - start
        if len(order) != n * probe or not np.array_equal(rows_all[order][::probe], np.arange(start, stop)):
            raise RuntimeError(f"rows {start}-{stop - 1}: expected {probe} list visits per row, found "
                               f"{len(order)} in all; a search task's files are missing or stale")
        cand_idx = np.concatenate(idx)[order].reshape(n, -1)
        cand_sim = np.concatenate(sim)[order].reshape(n, -1)
        indices, distances = best_k(cand_idx, cosine_distances(cand_sim), np.arange(start, stop), k)
        _save(folder, f"g{part}-indices", indices)
        _save(folder, f"g{part}-distances", distances)
        return m.stats(n, int((indices < 0).sum()))

"""One k-nearest-neighbour graph over the embeddings, shared by every check that needs it.

Two engines behind one function, :func:`knn_graph`:

* ``exact``: blocked matrix products in NumPy; memory O(block x N), never N x N.
  The default up to :data:`EXACT_MAX_ROWS` rows.
* ``ivf``: a faiss inverted-file index with 8-bit scalar-quantised vectors (a quarter
  of the float32 memory) proposes candidates; every candidate's distance is then
  re-computed exactly from the float32 vectors and the lists re-sorted. Reported
  distances are therefore exact; only a neighbour the index did not propose can be
  missed. Used above :data:`EXACT_MAX_ROWS`; on a CUDA machine with ``faiss-gpu`` the
  index runs on the GPU.

:func:`update_knn_graph` adds new rows to an existing graph (and drops removed ones)
without rebuilding it: only the new rows, and the old rows that lost a neighbour, are
searched, and every old row is offered the new rows as candidates.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

log = logging.getLogger(__name__)

Method = Literal["auto", "exact", "ivf"]

#: ``method="auto"`` searches exactly up to this many rows and uses the IVF index above.
EXACT_MAX_ROWS = 10_000


@dataclass(frozen=True)
class NeighborGraph:
    """``indices[i]`` are the ``k`` nearest other rows of row ``i``; ``distances`` their cosine distances."""

    indices: np.ndarray  # int64 [N, k]
    distances: np.ndarray  # float32 [N, k], ascending
    method: str = "exact"

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def pairs_within(self, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unique pairs ``(i < j)`` whose distance is at most ``threshold``: ``(i, j, distance)``."""
        rows, cols = np.nonzero(self.distances <= threshold)
        i, j = rows, self.indices[rows, cols]
        d = self.distances[rows, cols]
        keep = j >= 0  # -1 pads lists of rows with fewer than k neighbours
        i, j, d = i[keep], j[keep], d[keep]
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        if lo.size == 0:
            return lo, hi, d
        key = lo.astype(np.int64) * (int(hi.max()) + 1) + hi
        _, first = np.unique(key, return_index=True)
        return lo[first], hi[first], d[first]


def knn_graph(vectors: np.ndarray, k: int = 10, *, method: Method = "auto", block_rows: int = 2048,
              nprobe: int | None = None, seed: int = 0) -> NeighborGraph:
    """Cosine k-NN of L2-normalised ``vectors`` (no self-loops), exact or IVF with exact re-check.

    Args:
        vectors: ``[N, D]`` float32, L2-normalised rows.
        k: neighbours per row (lowered to ``N - 1``).
        method: ``exact``, ``ivf``, or ``auto`` (exact up to :data:`EXACT_MAX_ROWS` rows).
        block_rows: query rows per block (bounds memory to ``block_rows x N`` floats for exact).
        nprobe: IVF lists visited per query (default: :func:`default_nprobe`).

    Example:
        >>> v = np.eye(3, dtype=np.float32)
        >>> knn_graph(v, k=1).distances.ravel().tolist()
        [1.0, 1.0, 1.0]
    """
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    k = max(0, min(k, n - 1))
    if method == "auto":
        method = "exact" if n <= EXACT_MAX_ROWS else "ivf"
    if k == 0:
        return NeighborGraph(np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32), method)
    if method == "exact":
        indices, distances = exact_neighbors(x, np.arange(n), k, block_rows=block_rows)
        return NeighborGraph(indices, distances, "exact")
    if method == "ivf":
        return _ivf_graph(x, k, nprobe=nprobe, seed=seed, block_rows=max(block_rows, 8192))
    raise ValueError(f"unknown k-NN method {method!r}; choose auto, exact or ivf")


def exact_neighbors(x: np.ndarray, query_rows: np.ndarray, k: int, *,
                    block_rows: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest rows of ``x`` (excluding itself) for each row in ``query_rows``.

    faiss's brute-force search (blocked BLAS products with a running top-k, so memory stays
    O(block x N)) proposes ``k + 1`` rows; the row itself is dropped and distances recomputed.
    """
    import faiss

    ask = min(len(x), k + 1)
    indices = np.zeros((len(query_rows), k), dtype=np.int64)
    distances = np.zeros((len(query_rows), k), dtype=np.float32)
    for start in range(0, len(query_rows), block_rows * 4):
        q = np.asarray(query_rows[start:start + block_rows * 4])
        _, cand = faiss.knn(x[q], x, ask, metric=faiss.METRIC_INNER_PRODUCT)
        indices[start:start + len(q)], distances[start:start + len(q)] = _recheck(x, q, cand, k)
    return indices, distances


def default_nlist(n: int) -> int:
    """Inverted lists for ``n`` rows: about ``2 sqrt(n)`` (balances k-means, assignment and scan cost)."""
    return int(max(16, min(65536, 2 * math.sqrt(n))))


def default_nprobe(nlist: int) -> int:
    """Lists visited per query. Near duplicates sit in (almost always) the same list as their
    original; 4 lists keep planted-pair recall at 1.0 in ``benchmarks/bench_neighbors.py``
    (2 do too, at 10k-100k) and k-NN recall@10 above 0.99 on the clustered test data."""
    return int(min(nlist, 4))


def _ivf_graph(x: np.ndarray, k: int, *, nprobe: int | None, seed: int, block_rows: int) -> NeighborGraph:
    import faiss

    n, d = x.shape
    nlist = default_nlist(n)
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    train = x[np.sort(rng.choice(n, size=min(n, 16 * nlist), replace=False))]
    index.cp.seed = seed
    index.cp.niter = 10
    index.cp.min_points_per_centroid = 8  # 16 per list is plenty to place lists; silences faiss' warning
    index.train(train)
    del train
    index = _maybe_to_gpu(faiss, index)
    for start in range(0, n, 65536):
        index.add(x[start:start + 65536])
    index.nprobe = nprobe or default_nprobe(nlist)
    # Ask for a few spare candidates: the quantised scores may order the true k-th one just below.
    ask = min(n, k + 1 + max(3, k // 4))
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block_rows):
        stop = min(n, start + block_rows)
        _, cand = index.search(x[start:stop], ask)
        for sub in range(start, stop, 2048):  # re-check in cache-sized blocks
            end = min(stop, sub + 2048)
            indices[sub:end], distances[sub:end] = _recheck(x, np.arange(sub, end), cand[sub - start:end - start], k)
    log.info("IVF k-NN: %d rows, %d lists, nprobe %d", n, nlist, index.nprobe)
    return NeighborGraph(indices, distances, "ivf")


def _recheck(x: np.ndarray, rows: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact distances for candidate lists (``-1`` = none), self removed, best ``k`` kept (``-1`` pads)."""
    valid = (cand >= 0) & (cand != rows[:, None])
    safe = np.where(valid, cand, 0)
    xr = x[rows]
    sims = np.stack([np.einsum("id,id->i", xr, x[safe[:, j]]) for j in range(safe.shape[1])], axis=1)
    sims = np.where(valid, sims, -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(sims, order, axis=1)
    idx = np.where(np.isfinite(best), np.take_along_axis(cand, order, axis=1), -1)
    dist = np.where(np.isfinite(best), np.clip(1.0 - best, 0.0, 2.0), np.inf).astype(np.float32)
    return idx, dist


def _maybe_to_gpu(faiss, index):
    """Move the index to the GPU when this faiss build has CUDA and a GPU is visible."""
    if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        log.info("faiss: building the k-NN index on the GPU")
        return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    return index


def update_knn_graph(previous: NeighborGraph, previous_to_current: np.ndarray, vectors: np.ndarray, *,
                     k: int | None = None, block_rows: int = 2048,
                     max_share: float = 0.1) -> tuple[NeighborGraph, dict[str, int]]:
    """Bring ``previous`` up to date with the current rows instead of rebuilding it.

    Args:
        previous: the graph of the earlier audit (its own row numbering).
        previous_to_current: for each earlier row, its row in ``vectors`` or ``-1`` if it is gone
            (removed, or its file's content changed).
        vectors: all current rows, L2-normalised.
        max_share: when the rows to search exceed this share of all rows, rebuild instead.

    Returns:
        ``(graph, stats)`` with ``stats`` = ``{"reused", "new", "recomputed", "rebuilt"}``.
        Starting from an exact graph the result equals :func:`knn_graph` with ``exact``.

    Example:
        >>> x = np.eye(4, dtype=np.float32)
        >>> g, stats = update_knn_graph(knn_graph(x[:3], k=1), np.arange(3), x, k=1, max_share=1.0)
        >>> stats["new"], g.indices.shape
        (1, (4, 1))
    """
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    k = previous.k if k is None else k
    k = max(0, min(k, n - 1))
    mapping = np.asarray(previous_to_current, dtype=np.int64)
    is_old = np.zeros(n, dtype=bool)
    is_old[mapping[mapping >= 0]] = True
    new_rows = np.flatnonzero(~is_old)
    prev_rows = np.flatnonzero(mapping >= 0)  # earlier rows still present
    # Translate the kept lists; a list that names a vanished row is searched again.
    lists = previous.indices[prev_rows]
    translated = np.where(lists >= 0, mapping[np.where(lists >= 0, lists, 0)], -2)
    dirty_prev = (translated == -1).any(axis=1) | (previous.k < k)
    clean_prev = prev_rows[~dirty_prev]
    dirty_cur = mapping[prev_rows[dirty_prev]]
    queries = np.concatenate([new_rows, dirty_cur])
    stats = {"reused": int(len(clean_prev)), "new": int(len(new_rows)), "recomputed": int(len(dirty_cur)),
             "rebuilt": 0}
    if k == 0 or len(queries) > max_share * n:
        graph = knn_graph(x, k, method="auto" if previous.method == "ivf" or n > EXACT_MAX_ROWS else "exact")
        return graph, {"reused": 0, "new": int(len(new_rows)), "recomputed": n, "rebuilt": 1}
    indices = np.full((n, k), -1, dtype=np.int64)
    distances = np.full((n, k), np.inf, dtype=np.float32)
    cur_clean = mapping[clean_prev]
    keep_k = min(k, previous.k)
    kept = previous.indices[clean_prev, :keep_k]
    indices[cur_clean] = np.where(kept >= 0, mapping[np.where(kept >= 0, kept, 0)], -1)
    distances[cur_clean] = previous.distances[clean_prev, :keep_k]
    if len(queries):
        indices[queries], distances[queries] = exact_neighbors(x, queries, k, block_rows=block_rows)
    if len(new_rows) and len(cur_clean):
        _offer_new_rows(x, new_rows, cur_clean, indices, distances, block_rows=block_rows)
    return NeighborGraph(indices, distances, previous.method), stats


def _offer_new_rows(x: np.ndarray, new_rows: np.ndarray, rows: np.ndarray, indices: np.ndarray,
                    distances: np.ndarray, *, block_rows: int) -> None:
    """Merge each of ``rows``' lists with its nearest new rows (in place)."""
    k = indices.shape[1]
    m = min(k, len(new_rows))
    xn = x[new_rows]
    for start in range(0, len(rows), block_rows * 4):
        r = rows[start:start + block_rows * 4]
        sims = x[r] @ xn.T  # [rows, new]
        part = np.argpartition(-sims, m - 1, axis=1)[:, :m] if m < len(new_rows) else \
            np.broadcast_to(np.arange(len(new_rows)), (len(r), len(new_rows)))
        cand_d = np.clip(1.0 - np.take_along_axis(sims, part, axis=1), 0.0, 2.0).astype(np.float32)
        all_i = np.concatenate([indices[r], new_rows[part]], axis=1)
        all_d = np.concatenate([distances[r], cand_d], axis=1)
        order = np.argsort(all_d, axis=1, kind="stable")[:, :k]
        indices[r] = np.take_along_axis(all_i, order, axis=1)
        distances[r] = np.take_along_axis(all_d, order, axis=1)

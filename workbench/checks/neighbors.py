"""One k-nearest-neighbour graph over the embeddings, shared by every check that needs it.

Two engines behind one function, :func:`knn_graph`:

* ``exact``: blocked matrix products in NumPy; memory O(block x N), never N x N.
  The default up to :data:`EXACT_MAX_ROWS` rows.
* ``ivf``: k-means splits the rows into inverted lists; each row is compared with the
  rows of its ``nprobe`` nearest lists, one list at a time as a blocked matrix product
  on the float32 vectors (no quantisation). Reported distances are therefore exact;
  only a neighbour living in a list the row did not visit can be missed. Used above
  :data:`EXACT_MAX_ROWS`; on a CUDA machine with ``faiss-gpu`` k-means and the products
  run on the GPU. Memory: the vectors plus ``N x nprobe x (k + 1)`` candidates.

:func:`update_knn_graph` adds new rows to an existing graph (and drops removed ones)
without rebuilding it: only the new rows, and the old rows that lost a neighbour, are
searched, and every old row is offered the new rows as candidates.
"""

from __future__ import annotations

import logging
import math
from typing import Literal

import numpy as np

from workbench.graph import NeighborGraph

log = logging.getLogger(__name__)

Method = Literal["auto", "exact", "ivf"]

#: ``method="auto"`` searches exactly up to this many rows and uses the inverted lists (``ivf``) above.
EXACT_MAX_ROWS = 10_000

#: Extra candidates the exact search asks for beyond ``k + 1``.
_SPARE = 4

#: Rows gathered at once from one inverted list (members, and the rows visiting it): 32 MiB at 512-d.
_LIST_CHUNK = 16_384


def knn_graph(vectors: np.ndarray, k: int = 10, *, method: Method = "auto", block_rows: int = 2048,
              nprobe: int | None = None, seed: int = 0) -> NeighborGraph:
    """Cosine k-NN of L2-normalised ``vectors`` (no self-loops), exact or over k-means inverted lists.

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
    O(block x N)) proposes ``k + 5`` rows; their scores are recomputed pair by pair
    (:func:`_pair_sims`) and the row itself is dropped.
    """
    import faiss

    # Spare candidates, so that rows tied at the k-th distance (exact copies) are all seen and
    # the tie resolves by row number, as it does when a stored graph is updated.
    ask = min(len(x), k + 1 + _SPARE)
    indices = np.zeros((len(query_rows), k), dtype=np.int64)
    distances = np.zeros((len(query_rows), k), dtype=np.float32)
    for start in range(0, len(query_rows), block_rows * 4):
        q = np.asarray(query_rows[start:start + block_rows * 4])
        _, cand = faiss.knn(x[q], x, ask, metric=faiss.METRIC_INNER_PRODUCT)
        block = slice(start, start + len(q))
        indices[block], distances[block] = best_k(cand, cosine_distances(_pair_sims(x, q, cand)), q, k)
    return indices, distances


def default_nlist(n: int) -> int:
    """Inverted lists for ``n`` rows: about ``2 sqrt(n)`` (balances k-means, assignment and scan cost),
    and at least 8 rows per list on tiny inputs."""
    return int(max(1, min(65536, 2 * math.sqrt(n), n // 8)))


def default_nprobe(nlist: int) -> int:
    """Lists visited per query. Near duplicates sit in (almost always) the same list as their
    original; 4 lists keep planted-pair recall at 1.0 in ``benchmarks/bench_neighbors.py``
    (2 do too, at 10k-100k) and k-NN recall@10 above 0.99 on the clustered test data."""
    return int(min(nlist, 4))


def _ivf_graph(x: np.ndarray, k: int, *, nprobe: int | None, seed: int, block_rows: int) -> NeighborGraph:
    """Inverted-file self-join, scored by matrix products on the float32 vectors.

    k-means (inner-product assignment) splits the rows into lists; every row lives in its
    nearest list and visits its ``nprobe`` nearest. Instead of scanning a quantised index one
    query at a time, each list is scored against all the rows that visit it in one blocked
    product (faiss's BLAS k-NN), so the scores are exact float32 inner products and the cost is
    a few dozen matrix products instead of ``N`` scans. The best ``k + 1`` per (row, list) are
    kept, then each row's candidates are merged (itself dropped).

    :mod:`workbench.checks.neighbors_cluster` runs the same steps (:func:`train_centroids`,
    :func:`list_candidates`, :func:`best_k`) as Dask tasks over memory-mapped blocks.
    """
    n, d = x.shape
    nlist = default_nlist(n)
    probe = int(min(nlist, nprobe or default_nprobe(nlist)))
    search = block_search()
    centroids = train_centroids(x[training_rows(n, nlist, seed)], nlist, seed)
    probes = nearest_lists(x, centroids, probe)  # [n, probe]
    del centroids
    members_of, member_bounds = _group(probes[:, 0], nlist)  # rows by the list they live in
    visitors_of, visitor_bounds = _group(probes.ravel(), nlist)  # (row * probe + slot) by list visited
    del probes
    ask = k + 1  # a row's own list also holds the row itself
    index_type = np.int32 if n < 2**31 else np.int64
    cand_idx = np.full((n * probe, ask), -1, dtype=index_type)
    cand_sim = np.full((n * probe, ask), -np.inf, dtype=np.float32)
    for lst in range(nlist):
        members = members_of[member_bounds[lst]:member_bounds[lst + 1]]
        slots = visitors_of[visitor_bounds[lst]:visitor_bounds[lst + 1]]
        cand_idx[slots], cand_sim[slots] = list_candidates(search, x.__getitem__, members, slots // probe, ask)
    del members_of, visitors_of
    cand_idx = cand_idx.reshape(n, probe * ask)
    cand_sim = cand_sim.reshape(n, probe * ask)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block_rows):
        stop = min(n, start + block_rows)
        indices[start:stop], distances[start:stop] = best_k(
            cand_idx[start:stop], cosine_distances(cand_sim[start:stop]), np.arange(start, stop), k)
    log.info("IVF k-NN: %d rows, %d lists, %d visited per row", n, nlist, probe)
    return NeighborGraph(indices, distances, "ivf")


def training_rows(n: int, nlist: int, seed: int) -> np.ndarray:
    """The rows (sorted) whose vectors train the ``nlist`` k-means centroids: ``16 x nlist`` drawn
    with ``seed``, so any engine that reads the same rows trains the same lists."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=min(n, 16 * nlist), replace=False))


def train_centroids(train: np.ndarray, nlist: int, seed: int) -> np.ndarray:
    """k-means centroids (inner-product assignment, 10 iterations) of the rows ``train``.

    Centroids are not re-normalised: a diffuse cluster keeps a short centroid, so it does not
    become a hub that every row visits (spherical k-means made the self-join ~1.6x costlier on
    the benchmark's clustered data)."""
    import faiss

    d = train.shape[1]
    params = faiss.ClusteringParameters()
    params.niter = 10
    params.seed = seed
    params.min_points_per_centroid = 8  # 16 per list is plenty to place lists; silences faiss' warning
    clustering = faiss.Clustering(d, nlist, params)
    assign = faiss.IndexFlatIP(d)
    if _has_gpu(faiss):
        assign = faiss.index_cpu_to_all_gpus(assign)
    clustering.train(np.ascontiguousarray(train, dtype=np.float32), assign)
    return faiss.vector_to_array(clustering.centroids).reshape(nlist, d)


def nearest_lists(x: np.ndarray, centroids: np.ndarray, probe: int) -> np.ndarray:
    """Each row's ``probe`` nearest lists (by inner product with the centroids), nearest first."""
    import faiss

    _, probes = faiss.knn(np.ascontiguousarray(x, dtype=np.float32), centroids, probe,
                          metric=faiss.METRIC_INNER_PRODUCT)
    return probes


def list_candidates(search, gather, members: np.ndarray, visitors: np.ndarray,
                    ask: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``ask`` most similar ``members`` of one list for each of its ``visitors`` (rows).

    ``gather(rows)`` returns the float32 vectors of sorted ``rows``; ``search`` is
    :func:`block_search`'s. Members and visitors are taken in chunks of ``_LIST_CHUNK``, which
    bounds the gathered copies when the data collapses into a few huge lists. Returns
    ``(rows [visitors, ask], inner products)`` padded with ``-1`` / ``-inf`` (unsorted).
    """
    cand_idx = np.full((len(visitors), ask), -1, dtype=np.int64)
    cand_sim = np.full((len(visitors), ask), -np.inf, dtype=np.float32)
    for m_start in range(0, len(members), _LIST_CHUNK):
        chunk = members[m_start:m_start + _LIST_CHUNK]
        base = gather(chunk)
        take = min(ask, len(chunk))
        for q_start in range(0, len(visitors), _LIST_CHUNK):
            q = slice(q_start, q_start + _LIST_CHUNK)
            sims, local = search(gather(visitors[q]), base, take)
            if m_start == 0:
                cand_idx[q, :take] = chunk[local]
                cand_sim[q, :take] = sims
            else:
                cand_idx[q], cand_sim[q] = _merge_top(cand_idx[q], cand_sim[q], chunk[local], sims, ask)
    return cand_idx, cand_sim


def _merge_top(idx_a: np.ndarray, sim_a: np.ndarray, idx_b: np.ndarray, sim_b: np.ndarray,
               keep: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise union of two candidate sets, the ``keep`` most similar of each row (unsorted)."""
    idx = np.concatenate([idx_a, idx_b.astype(idx_a.dtype)], axis=1)
    sim = np.concatenate([sim_a, sim_b], axis=1)
    part = np.argpartition(-sim, keep - 1, axis=1)[:, :keep]
    return np.take_along_axis(idx, part, axis=1), np.take_along_axis(sim, part, axis=1)


def _group(keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``keys`` sorted by key, and each key's ``[start, stop)`` bounds in that order."""
    order = np.argsort(keys, kind="stable")
    bounds = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n_groups), out=bounds[1:])
    return order, bounds


def cosine_distances(sims: np.ndarray) -> np.ndarray:
    """Cosine distances (float32, clipped to ``[0, 2]``) from inner products of unit vectors."""
    return np.clip(1.0 - sims, 0.0, 2.0).astype(np.float32)


def best_k(cand_idx: np.ndarray, cand_dist: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest candidates (itself and ``-1`` slots dropped; ``-1`` / ``inf`` pad).

    Rows are ranked by ``(float32 distance, row number)``, so ties (exact copies) resolve the same
    way whichever path produced the candidates: a graph updated in place equals a rebuilt one.
    """
    dist = np.where((cand_idx == rows[:, None]) | (cand_idx < 0), np.inf, cand_dist).astype(np.float32)
    cand_idx = np.where(np.isfinite(dist), cand_idx, np.iinfo(np.int64).max).astype(np.int64)
    if dist.shape[1] > k:
        part = np.argpartition(dist, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(dist, part, axis=1).max(axis=1)
        # Where a candidate left out ties the k-th distance, the partition chose among the tied
        # arbitrarily: those (rare) rows are sorted whole.
        tied = np.flatnonzero((dist <= kth[:, None]).sum(axis=1) > k)
        if len(tied):
            part[tied] = np.lexsort((cand_idx[tied], dist[tied]), axis=1)[:, :k]
        dist = np.take_along_axis(dist, part, axis=1)
        cand_idx = np.take_along_axis(cand_idx, part, axis=1)
    order = np.lexsort((cand_idx, dist), axis=1)
    dist = np.take_along_axis(dist, order, axis=1)
    idx = np.where(np.isfinite(dist), np.take_along_axis(cand_idx, order, axis=1), -1)
    return idx, dist


def _pair_sims(x: np.ndarray, rows: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """``x[rows[i]] . x[cand[i, j]]`` computed pair by pair (``-inf`` where ``cand`` is ``-1``).

    One pair always gets the same bits, whichever block or path asks; matrix products do not
    promise that (their summation order depends on the block shape)."""
    safe = np.where(cand >= 0, cand, 0)
    xr = x[rows]
    sims = np.stack([np.einsum("id,id->i", xr, x[safe[:, j]]) for j in range(safe.shape[1])], axis=1)
    return np.where(cand >= 0, sims, -np.inf).astype(np.float32)


def _has_gpu(faiss) -> bool:
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def block_search():
    """``(queries, base, k) -> (sims, local indices)``: exact inner-product top-k of one block pair,
    on the GPU when this faiss build has CUDA and a GPU is visible."""
    import faiss

    if _has_gpu(faiss):
        log.info("faiss: scoring the k-NN lists on the GPU")
        resources = faiss.StandardGpuResources()
        return lambda q, b, k: faiss.knn_gpu(resources, q, b, k, metric=faiss.METRIC_INNER_PRODUCT)
    return lambda q, b, k: faiss.knn(q, b, k, metric=faiss.METRIC_INNER_PRODUCT)


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
        offered = new_rows[part]
        all_i = np.concatenate([indices[r], offered], axis=1)
        all_d = np.concatenate([distances[r], cosine_distances(_pair_sims(x, r, offered))], axis=1)
        indices[r], distances[r] = best_k(all_i, all_d, r, k)

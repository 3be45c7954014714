"""Clustered synthetic embeddings with planted near-duplicate pairs and planted train/test leaks.

Isotropic noise is a poor stand-in for image embeddings: in 512 dimensions every point is
~1.0 (cosine distance) from every other, so a k-NN search has nothing to do. Here the rows
are drawn around ``C`` cluster centres (about ``sqrt(N)`` of them, of log-normal sizes) that
share one common direction (real image embeddings have a large common mean, so unrelated
images are not orthogonal; here random pairs sit at cosine similarity ~0.22). Each cluster
has its own spread, partly isotropic and partly in a cluster-specific low-rank subspace, so
within-cluster nearest-neighbour distances are mostly 0.1-0.4 and vary from cluster to cluster.
Then ``P`` rows are replaced by planted copies of other rows (cosine distance uniform in
``[0.001, 0.8 * threshold]``), and another ``P`` rows by *decoys*: copies just beyond the
threshold (uniform in ``[1.1, 2] * threshold``) that a correct search must not report. Each row
is put in ``train`` (80%) or ``test`` (20%) independently, so about 32% of the planted pairs
cross splits (planted leaks).

Everything is generated in float32, one cluster at a time (no ``N x N`` array), and is
deterministic for a given ``seed`` (same numpy version). ``N = 1,000,000`` takes ~2 GB (the
vectors themselves) plus ~0.1-0.2 GB (at 300k rows: 586 MB of vectors, 118 MB more at the peak).

Run ``python -m benchmarks.synthetic --n 10k`` to print what a data set looks like.

Example:
    >>> data = make_embeddings(2000, seed=1)
    >>> data.vectors.shape, data.vectors.dtype.name, len(data.planted_pairs), len(data.decoy_pairs)
    ((2000, 512), 'float32', 20, 20)
    >>> bool((data.planted_distances <= 0.8 * data.threshold).all())
    True
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass

import numpy as np

DEFAULT_THRESHOLD = 0.04

# Independent random streams, so that changing one part (say the split fraction) leaves the rest alone.
_STREAM_LAYOUT, _STREAM_CENTRES, _STREAM_CLUSTER, _STREAM_PLANTED, _STREAM_SPLITS = range(5)


@dataclass(frozen=True)
class SyntheticEmbeddings:
    """A generated data set: vectors, splits and the ground truth planted in them."""

    vectors: np.ndarray  #: float32 ``[N, D]``, every row L2-normalised
    splits: np.ndarray  #: ``<U5`` ``[N]``: ``"train"`` or ``"test"``
    planted_pairs: np.ndarray  #: int64 ``[P, 2]``: ``(source row, planted copy row)``
    planted_distances: np.ndarray  #: float64 ``[P]``: exact cosine distance of each planted pair
    decoy_pairs: np.ndarray  #: int64 ``[Q, 2]``: ``(source row, decoy row)``, just beyond the threshold
    decoy_distances: np.ndarray  #: float64 ``[Q]``
    cluster_ids: np.ndarray  #: int32 ``[N]``: the cluster each row was drawn from (a copy: its source's)
    threshold: float  #: the near-duplicate cosine-distance threshold the data was planted for
    seed: int

    @property
    def n(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def planted_leaks(self) -> np.ndarray:
        """Boolean ``[P]``: the planted pairs whose two rows are in different splits."""
        a, b = self.planted_pairs[:, 0], self.planted_pairs[:, 1]
        return self.splits[a] != self.splits[b]

    def planted_keys(self) -> np.ndarray:
        """Sorted :func:`pair_keys` of the planted pairs (for ``np.isin`` against reported pairs)."""
        return np.sort(pair_keys(self.planted_pairs[:, 0], self.planted_pairs[:, 1], self.n))


def pair_keys(i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    """One int64 per unordered pair: ``min * n + max`` (order of ``i`` and ``j`` does not matter)."""
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    return np.minimum(i, j) * np.int64(n) + np.maximum(i, j)


def exact_distances(vectors: np.ndarray, i: np.ndarray, j: np.ndarray, *, chunk: int = 65536) -> np.ndarray:
    """Cosine distance ``1 - <v_i, v_j>`` of the given pairs, from the stored float32 rows, in float64."""
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    out = np.empty(len(i), dtype=np.float64)
    for start in range(0, len(i), chunk):
        a = vectors[i[start:start + chunk]].astype(np.float64)
        b = vectors[j[start:start + chunk]].astype(np.float64)
        out[start:start + chunk] = 1.0 - np.einsum("ij,ij->i", a, b)
    return out


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def make_embeddings(n: int, *, dim: int = 512, n_clusters: int | None = None, n_planted: int | None = None,
                    n_decoys: int | None = None,
                    threshold: float = DEFAULT_THRESHOLD, test_fraction: float = 0.2, shared: float = 0.35,
                    spread: tuple[float, float] = (0.2, 0.6), low_rank: int = 8, low_rank_share: float = 0.5,
                    size_sigma: float = 0.5, seed: int = 0) -> SyntheticEmbeddings:
    """Generate ``n`` clustered unit vectors with planted near-duplicate pairs and a train/test split.

    Args:
        n: number of rows.
        dim: dimension.
        n_clusters: number of cluster centres; default ``round(sqrt(n))``.
        n_planted: number of planted near-duplicate pairs; default ``n // 100``.
        threshold: near-duplicate cosine-distance threshold; planted pairs are uniform in
            ``[0.001, 0.8 * threshold]``.
        n_decoys: number of decoy pairs, uniform in ``[1.1, 2] * threshold``; default ``n_planted``.
        test_fraction: share of rows put in ``"test"`` (each row independently of its copy).
        shared: weight of the direction all centres share (centre-to-centre cosine similarity ~ ``shared``).
        spread: range of each cluster's typical within-cluster pair distance ``sigma^2 / (1 + sigma^2)``
            (uniform per cluster); nearest-neighbour distances come out at roughly a half to
            three quarters of it, depending on the cluster's size.
        low_rank: dimension of each cluster's own subspace of variation.
        low_rank_share: share of a cluster's variance in that subspace (the rest is isotropic).
        size_sigma: log-normal sigma of the cluster sizes.
        seed: everything is a function of it.

    Returns:
        A :class:`SyntheticEmbeddings`.

    Example:
        >>> d = make_embeddings(1000, n_planted=5, seed=3)
        >>> d.planted_pairs.shape, int(d.planted_leaks.sum()) <= 5
        ((5, 2), True)
    """
    n_clusters = max(1, round(math.sqrt(n))) if n_clusters is None else n_clusters
    n_planted = n // 100 if n_planted is None else n_planted
    n_decoys = n_planted if n_decoys is None else n_decoys
    n_copies = n_planted + n_decoys
    if n_planted < 0 or n_decoys < 0 or 2 * n_copies > n:
        raise ValueError(f"n_planted={n_planted} and n_decoys={n_decoys} need 2 * (n_planted + n_decoys) <= n={n}")
    n_base = n - n_copies

    layout = _rng(seed, _STREAM_LAYOUT)
    position = layout.permutation(n)  # row k of the generation order lands at vectors[position[k]]
    weights = layout.lognormal(0.0, size_sigma, n_clusters)
    sizes = layout.multinomial(n_base, weights / weights.sum())
    deltas = layout.uniform(spread[0], spread[1], n_clusters)

    centres_rng = _rng(seed, _STREAM_CENTRES)
    common = _unit_rows(centres_rng.standard_normal((1, dim)))[0]
    centres = _unit_rows(math.sqrt(shared) * common
                         + math.sqrt(1.0 - shared) * _unit_rows(centres_rng.standard_normal((n_clusters, dim))))
    centres = centres.astype(np.float32)

    vectors = np.empty((n, dim), dtype=np.float32)
    cluster_ids = np.empty(n, dtype=np.int32)
    offset = 0
    iso, low = math.sqrt(1.0 - low_rank_share), math.sqrt(low_rank_share)
    for k, size in enumerate(sizes.tolist()):
        if size == 0:
            continue
        rng = _rng(seed, _STREAM_CLUSTER, k)
        sigma = math.sqrt(deltas[k] / (1.0 - deltas[k]))
        basis = np.linalg.qr(rng.standard_normal((dim, low_rank)))[0].T.astype(np.float32)  # [r, D] orthonormal
        block = rng.standard_normal((size, dim), dtype=np.float32)
        block *= np.float32(sigma * iso / math.sqrt(dim))
        coords = rng.standard_normal((size, low_rank), dtype=np.float32)
        coords *= np.float32(sigma * low / math.sqrt(low_rank))
        block += coords @ basis
        block += centres[k]
        rows = position[offset:offset + size]
        vectors[rows] = _unit_rows(block)
        cluster_ids[rows] = k
        offset += size

    planted_rng = _rng(seed, _STREAM_PLANTED)
    sources = position[planted_rng.choice(n_base, n_copies, replace=False)]
    copies = position[n_base:]
    targets = np.concatenate([planted_rng.uniform(0.001, 0.8 * threshold, n_planted),
                              planted_rng.uniform(1.1 * threshold, 2.0 * threshold, n_decoys)])
    chunk = 8192  # bounds the float64 temporaries to ~100 MB
    for start in range(0, n_copies, chunk):
        src = sources[start:start + chunk]
        s = _unit_rows(vectors[src].astype(np.float64))
        u = planted_rng.standard_normal(s.shape)
        u -= np.einsum("ij,ij->i", u, s)[:, None] * s
        u = _unit_rows(u)
        cos = 1.0 - targets[start:start + chunk, None]
        vectors[copies[start:start + chunk]] = (cos * s + np.sqrt(1.0 - cos ** 2) * u).astype(np.float32)
        cluster_ids[copies[start:start + chunk]] = cluster_ids[src]
    pairs = np.stack([sources, copies], axis=1).astype(np.int64)
    distances = exact_distances(vectors, pairs[:, 0], pairs[:, 1])

    split_rng = _rng(seed, _STREAM_SPLITS)
    splits = np.full(n, "train", dtype="<U5")
    splits[split_rng.choice(n, round(test_fraction * n), replace=False)] = "test"

    return SyntheticEmbeddings(vectors=vectors, splits=splits, planted_pairs=pairs[:n_planted],
                               planted_distances=distances[:n_planted], decoy_pairs=pairs[n_planted:],
                               decoy_distances=distances[n_planted:], cluster_ids=cluster_ids,
                               threshold=float(threshold), seed=int(seed))


def accidental_pairs(data: SyntheticEmbeddings, *, block_rows: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Pairs within ``data.threshold`` that were not planted: ``(pairs int64 [M, 2], distances float64 [M])``.

    Searched exactly but only *within* each cluster (cost ``sum(n_c^2) * D``, about 1/C of an
    all-pairs search), so it is cheap at a million rows. Pairs across clusters are assumed
    absent: cluster centres are ~0.65 apart and spreads are bounded, so none comes near the
    threshold; ``bench_neighbors`` checks this against an exact all-pairs search at small N.
    """
    order = np.argsort(data.cluster_ids, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(data.cluster_ids, minlength=int(data.cluster_ids.max()) + 1))])
    cutoff = np.float32(1.0 - data.threshold - 1e-4)  # float32 margin; exact check below
    found_i, found_j = [], []
    for k in range(len(bounds) - 1):
        rows = order[bounds[k]:bounds[k + 1]]
        if len(rows) < 2:
            continue
        x = data.vectors[rows]
        for start in range(0, len(rows), block_rows):
            sims = x[start:start + block_rows] @ x.T
            a, b = np.nonzero(sims >= cutoff)
            a += start
            keep = a < b
            found_i.append(rows[a[keep]])
            found_j.append(rows[b[keep]])
    i = np.concatenate(found_i) if found_i else np.empty(0, dtype=np.int64)
    j = np.concatenate(found_j) if found_j else np.empty(0, dtype=np.int64)
    d = exact_distances(data.vectors, i, j)
    within = d <= data.threshold
    i, j, d = i[within], j[within], d[within]
    not_planted = ~np.isin(pair_keys(i, j, data.n), data.planted_keys())
    lo, hi = np.minimum(i, j)[not_planted], np.maximum(i, j)[not_planted]
    return np.stack([lo, hi], axis=1).astype(np.int64), d[not_planted]


def nn_distance_sample(data: SyntheticEmbeddings, *, n_queries: int = 1000, seed: int = 0) -> np.ndarray:
    """Exact nearest-neighbour cosine distance of ``n_queries`` random rows outside planted and decoy pairs."""
    rng = np.random.default_rng(seed)
    planted_rows = np.zeros(data.n, dtype=bool)
    planted_rows[data.planted_pairs.ravel()] = True
    planted_rows[data.decoy_pairs.ravel()] = True
    candidates = np.flatnonzero(~planted_rows)
    queries = rng.choice(candidates, min(n_queries, len(candidates)), replace=False)
    best = np.full(len(queries), -np.inf, dtype=np.float32)
    q = data.vectors[queries]
    for start in range(0, data.n, 65536):
        sims = q @ data.vectors[start:start + 65536].T
        hit = (queries >= start) & (queries < start + 65536)
        sims[np.flatnonzero(hit), queries[hit] - start] = -np.inf
        best = np.maximum(best, sims.max(axis=1))
    return 1.0 - best.astype(np.float64)


def parse_count(text: str) -> int:
    """``"10k"`` -> 10000, ``"1M"`` -> 1000000, ``"2500"`` -> 2500."""
    text = text.strip()
    scale = {"k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale != 1 else text
    return int(round(float(number) * scale))


def describe(data: SyntheticEmbeddings, *, n_queries: int = 1000,
             accidental: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Summary numbers of a generated data set; pass ``accidental`` when already computed."""
    t0 = time.perf_counter()
    acc, _ = accidental_pairs(data) if accidental is None else accidental
    t_acc = time.perf_counter() - t0
    nn = nn_distance_sample(data, n_queries=n_queries)
    sizes = np.bincount(data.cluster_ids)
    sizes = sizes[sizes > 0]
    qs = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
    return {
        "n": data.n, "dim": data.dim, "seed": data.seed, "threshold": data.threshold,
        "clusters": int(len(sizes)), "cluster_size_min_median_max": [int(sizes.min()), int(np.median(sizes)),
                                                                        int(sizes.max())],
        "planted_pairs": int(len(data.planted_pairs)), "planted_leaks": int(data.planted_leaks.sum()),
        "planted_distance_min_max": [float(data.planted_distances.min()), float(data.planted_distances.max())]
        if len(data.planted_pairs) else None,
        "decoy_pairs": int(len(data.decoy_pairs)),
        "decoy_distance_min_max": [float(data.decoy_distances.min()), float(data.decoy_distances.max())]
        if len(data.decoy_pairs) else None,
        "test_rows": int((data.splits == "test").sum()),
        "accidental_pairs": int(len(acc)),
        "accidental_leaks": int((data.splits[acc[:, 0]] != data.splits[acc[:, 1]]).sum()) if len(acc) else 0,
        "accidental_seconds": round(t_acc, 2) if accidental is None else None,
        "nn_distance_sample": int(len(nn)),
        "nn_distance_quantiles": {str(q): round(float(np.quantile(nn, q)), 4) for q in qs},
        "nn_distance_share_0.1_0.4": round(float(((nn >= 0.1) & (nn <= 0.4)).mean()), 3),
        "mean_cosine_similarity_random_pairs": round(float(_mean_random_similarity(data)), 3),
    }


def _mean_random_similarity(data: SyntheticEmbeddings, pairs: int = 20000) -> float:
    rng = np.random.default_rng(1)
    i, j = rng.integers(0, data.n, pairs), rng.integers(0, data.n, pairs)
    return float(np.mean(1.0 - exact_distances(data.vectors, i, j)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a synthetic embedding set and print what it looks like.")
    parser.add_argument("--n", default="10k", help="rows, e.g. 10k, 100k, 1M")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--queries", type=int, default=1000, help="rows whose exact NN distance is sampled")
    args = parser.parse_args(argv)
    import json

    t0 = time.perf_counter()
    data = make_embeddings(parse_count(args.n), seed=args.seed, threshold=args.threshold)
    seconds = time.perf_counter() - t0
    summary = {"generate_seconds": round(seconds, 2), **describe(data, n_queries=args.queries)}
    json.dump(summary, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

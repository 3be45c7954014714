"""One k-nearest-neighbour graph over the embeddings, shared by every check that needs it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NeighborGraph:
    """``indices[i]`` are the ``k`` nearest other rows of row ``i``; ``distances`` their cosine distances."""

    indices: np.ndarray  # int64 [N, k]
    distances: np.ndarray  # float32 [N, k], ascending

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def pairs_within(self, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unique pairs ``(i < j)`` whose distance is at most ``threshold``: ``(i, j, distance)``."""
        rows, cols = np.nonzero(self.distances <= threshold)
        i, j = rows, self.indices[rows, cols]
        d = self.distances[rows, cols]
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        if lo.size == 0:
            return lo, hi, d
        key = lo.astype(np.int64) * (int(hi.max()) + 1) + hi
        _, first = np.unique(key, return_index=True)
        return lo[first], hi[first], d[first]


def knn_graph(vectors: np.ndarray, k: int = 10, *, block_rows: int = 2048) -> NeighborGraph:
    """Exact cosine k-NN of L2-normalised ``vectors``, computed in row blocks (memory O(block x N)).

    Example:
        >>> v = np.eye(3, dtype=np.float32)
        >>> knn_graph(v, k=1).distances.ravel().tolist()
        [1.0, 1.0, 1.0]
    """
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    k = max(0, min(k, n - 1))
    indices = np.zeros((n, k), dtype=np.int64)
    distances = np.zeros((n, k), dtype=np.float32)
    if k == 0:
        return NeighborGraph(indices, distances)
    for start in range(0, n, block_rows):
        stop = min(n, start + block_rows)
        sims = x[start:stop] @ x.T
        sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # no self-loops
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        part_sims = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-part_sims, axis=1, kind="stable")
        indices[start:stop] = np.take_along_axis(part, order, axis=1)
        distances[start:stop] = np.clip(1.0 - np.take_along_axis(part_sims, order, axis=1), 0.0, 2.0)
    return NeighborGraph(indices, distances)

"""The shared k-nearest-neighbour graph as data (:class:`NeighborGraph`).

Built by :mod:`workbench.checks.neighbors`, stored by :mod:`workbench.io.graph_store`, read by
the checks: it lives here, outside both, so that storage does not import the checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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

"""Which images to label next: uncertainty and diversity, the pure numbers behind active-learning selection.

* **Uncertainty** of the embedding probe's class probabilities: normalised entropy (``entropy``,
  0 = certain, 1 = uniform) or one minus the margin between the two likeliest classes (``margin``).
* **Diversity**: k-center greedy in embedding space. Each pick is the image farthest (cosine
  distance) from everything already labelled and picked, so a batch covers the pool instead of
  piling up near one hard boundary.

* **Uniqueness** (optional, ``w_q``): how far an image sits from its nearest neighbours on the shared
  k-NN graph (mean cosine distance to its ``k`` nearest, copies left out, as the outlier check
  measures it), as a percentile in [0, 1] (1 = the most isolated image): it favours images unlike
  any other, labelled or not, where diversity only looks at what is labelled or picked.

They are combined at every step: ``score = w_u * uncertainty + w_d * distance / max distance
+ w_q * uniqueness``, over the images still in the pool; with no labels the uncertainty is 0 and the
batch is pure k-center greedy (plus uniqueness when weighted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Uncertainty = Literal["entropy", "margin"]

#: Labelled rows kept as anchors of the distances (a seeded sample above this: distance to a sample
#: of the labelled set, the cost of one product per anchor per pool image).
MAX_ANCHORS = 5000


def uncertainty(probs: np.ndarray, kind: Uncertainty = "entropy") -> np.ndarray:
    """Per row of class probabilities, its uncertainty in [0, 1] (1 = the probe can't tell).

    Example:
        >>> uncertainty(np.array([[1.0, 0.0], [0.5, 0.5]])).round(3).tolist()
        [0.0, 1.0]
        >>> uncertainty(np.array([[0.7, 0.2, 0.1]]), "margin").round(3).tolist()
        [0.5]
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    k = p.shape[1]
    if k < 2:
        return np.zeros(len(p))
    if kind == "margin":
        top = np.sort(p, axis=1)[:, -2:]
        return 1.0 - (top[:, 1] - top[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    return np.clip(h / np.log(k), 0.0, 1.0) + 0.0  # + 0.0: no -0.0


def uniqueness(indices: np.ndarray, distances: np.ndarray, *, k: int = 10) -> np.ndarray:
    """Per graph row, the percentile (0 to 1) of its mean distance to its ``k`` nearest non-copy neighbours.

    Rows without a neighbour get 0 (nothing says they are unique).

    Example:
        >>> idx = np.array([[1, 2], [0, 2], [0, 1]])
        >>> dist = np.array([[0.1, 0.2], [0.1, 0.3], [0.2, 0.9]])
        >>> uniqueness(idx, dist, k=2).tolist()
        [0.0, 0.5, 1.0]
    """
    from scipy.stats import rankdata

    from workbench.checks.outliers import neighbor_distance

    mean, _ = neighbor_distance(indices, distances, k=k)
    known = np.isfinite(mean)
    out = np.zeros(len(mean))
    if known.sum() > 1:
        out[known] = (rankdata(mean[known]) - 1) / (known.sum() - 1)
    return out


@dataclass(frozen=True)
class Pick:
    """One image of the batch: its row, its place, and the numbers that chose it."""

    row: int
    rank: int
    uncertainty: float
    #: Cosine distance to the nearest image labelled or picked before it (``None``: nothing before it).
    distance: float | None
    score: float


def select_batch(vectors: np.ndarray, pool: Sequence[int], budget: int, *, scores: np.ndarray | None = None,
                 anchors: Sequence[int] = (), w_uncertainty: float = 0.5, w_diversity: float = 0.5,
                 shortlist: int = 0, seed: int = 0, unique: np.ndarray | None = None,
                 w_uniqueness: float = 0.0) -> list[Pick]:
    """Pick ``budget`` rows of ``pool`` (rows of ``vectors``, unit length) by uncertainty and diversity.

    Args:
        vectors: ``[n, d]`` unit vectors (cosine distance ``1 - <a, b>``).
        pool: the rows that may be picked.
        budget: how many to pick (fewer when the pool is smaller).
        scores: per pool row (aligned with ``pool``), its uncertainty in [0, 1]; ``None``: all 0.
        anchors: rows already labelled: distances start from them (a seeded sample of
            :data:`MAX_ANCHORS` when there are more).
        w_uncertainty, w_diversity: the weights of the two terms.
        shortlist: when above 0 (and there are scores), only the ``shortlist x budget`` most uncertain
            pool rows are candidates: diversity then spreads the batch among uncertain images instead of
            reaching for the far, rare ones (outliers) pure k-center favours.
        seed: picks the anchors' sample.
        unique, w_uniqueness: per pool row (aligned with ``pool``), its :func:`uniqueness`, and its weight
            (``None`` or 0: not used).

    Example:
        >>> v = np.array([[1, 0], [0.99, 0.141], [0, 1], [-1, 0]], dtype=np.float32)
        >>> [p.row for p in select_batch(v, [1, 2, 3], 2, anchors=[0])]
        [3, 2]
    """
    pool = np.asarray(list(pool), dtype=np.int64)
    u = np.zeros(len(pool)) if scores is None else np.asarray(scores, dtype=np.float64)
    q = np.zeros(len(pool)) if unique is None or not w_uniqueness else np.asarray(unique, dtype=np.float64)
    if shortlist > 0 and scores is not None and len(pool) > shortlist * budget:
        keep = np.sort(np.argsort(-u, kind="stable")[:shortlist * budget])
        pool, u, q = pool[keep], u[keep], q[keep]
    x = np.asarray(vectors, dtype=np.float32)
    candidates = x[pool]
    dist = np.full(len(pool), np.inf)
    anchors = np.asarray(list(anchors), dtype=np.int64)
    if len(anchors) > MAX_ANCHORS:
        anchors = np.random.default_rng(seed).choice(anchors, MAX_ANCHORS, replace=False)
    for start in range(0, len(anchors), 1024):
        block = x[anchors[start:start + 1024]]
        dist = np.minimum(dist, np.maximum(0.0, 1.0 - candidates @ block.T).min(axis=1))
    open_ = np.ones(len(pool), dtype=bool)
    picks: list[Pick] = []
    for rank in range(1, min(budget, len(pool)) + 1):
        finite = np.isfinite(dist) & open_
        top = float(dist[finite].max()) if finite.any() else 0.0
        d = np.where(np.isfinite(dist), dist / top if top > 0 else 0.0, 1.0)  # nothing to be near yet: all far
        score = np.where(open_, w_uncertainty * u + w_diversity * d + w_uniqueness * q, -np.inf)
        best = int(np.argmax(score))
        picks.append(Pick(int(pool[best]), rank, round(float(u[best]), 6) + 0.0,
                          round(float(dist[best]), 6) + 0.0 if np.isfinite(dist[best]) else None,
                          round(float(score[best]), 6) + 0.0))
        open_[best] = False
        dist = np.minimum(dist, np.maximum(0.0, 1.0 - candidates @ candidates[best]))
    return picks

"""Weak regions: clusters of similar images where the probe is wrong far more often than overall.

The labelled images' embeddings are clustered (k-means; ``k`` about ``sqrt(n / 10)``, 4 to 50, unless
given), and each cluster's accuracy is the share of its images whose out-of-fold probe prediction
(:func:`workbench.checks.probe.out_of_fold_probabilities`, the audit's label probe) matches the label.
A cluster is a weak region when it holds at least ``min_size`` images, its accuracy is at least ``gap``
under the dataset's, and a one-sided binomial test says that is no chance dip (p ≤ ``alpha`` / k,
Bonferroni over the k clusters). Each region is named for its content: its main classes, its size,
its accuracy against the dataset's and what the probe took its misclassified images for.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from workbench.results.drift import WeakRegion
from workbench.results.protocol import printable

#: Above this many images k-means runs in mini-batches.
MINIBATCH_ABOVE = 50_000


def default_clusters(n: int) -> int:
    """``round(sqrt(n / 10))`` clamped to 4..50 (and to ``n``): clusters of ~10 sqrt(n / 10) images.

    Example:
        >>> default_clusters(2000), default_clusters(100), default_clusters(10**6)
        (14, 4, 50)
    """
    return int(min(max(4, round(math.sqrt(n / 10))), 50, max(n, 1)))


def cluster_embeddings(vectors: np.ndarray, k: int, *, seed: int = 0) -> np.ndarray:
    """k-means cluster of each row (scikit-learn; mini-batches above :data:`MINIBATCH_ABOVE` rows).

    Example:
        >>> x = np.r_[np.zeros((5, 2)), np.ones((5, 2)) * 9].astype(np.float32)
        >>> len(set(cluster_embeddings(x, 2).tolist()))
        2
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans

    x = np.asarray(vectors, dtype=np.float32)
    model = (MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096) if len(x) > MINIBATCH_ABOVE
             else KMeans(n_clusters=k, random_state=seed, n_init=3))
    return model.fit_predict(x).astype(np.int64)


def find_weak_regions(vectors: np.ndarray, labels: Sequence[str | None], ids: Sequence[str],
                      filepaths: Sequence[str], *, clusters: int = 0, min_size: int = 20, gap: float = 0.1,
                      alpha: float = 0.01, max_regions: int = 10, n_folds: int = 5, seed: int = 0,
                      oof: Callable[..., tuple[np.ndarray, int, float]] | None = None,
                      fold_keys: Sequence[str] | None = None) -> tuple[list[WeakRegion], int, float | None, str]:
    """The weak regions among the labelled rows (``ids``, ``filepaths``, ``labels`` aligned with ``vectors``).

    The probe is the label check's (same classes, rows and ``fold_keys``: in an audit its fit is reused).

    Returns:
        ``(regions weakest first, clusters made, out-of-fold accuracy, reason none could be sought or "")``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = np.repeat(np.eye(6, 16) * 8, 40, axis=0) + rng.normal(size=(240, 16))
        >>> labels = [str(i // 40) for i in range(240)]
        >>> labels[:40] = rng.choice(["0", "1"], 40).tolist()  # cluster 0 holds two classes at random
        >>> ids = [str(i) for i in range(240)]
        >>> regions, k, acc, _ = find_weak_regions(x, labels, ids, ids, clusters=6)
        >>> [(r.name, r.n) for r in regions]
        [('wb-weak-1', 40)]
    """
    from scipy.stats import binomtest

    from workbench.checks.probe import out_of_fold_probabilities

    counted = Counter(lab for lab in labels if lab is not None)
    classes = sorted(c for c, n in counted.items() if n >= 2)
    if len(classes) < 2:
        return [], 0, None, "needs two classes of two labelled images or more"
    rows = np.array([i for i, lab in enumerate(labels) if lab in counted and counted[lab] >= 2], dtype=np.int64)
    if len(rows) < 2 * min_size:
        return [], 0, None, f"{len(rows)} labelled images; a region needs {min_size} and the rest as many"
    code = {c: k for k, c in enumerate(classes)}
    y = np.array([code[labels[i]] for i in rows], dtype=np.int64)
    x = np.asarray(vectors, dtype=np.float32)[rows]
    keys = {} if fold_keys is None else {"fold_keys": [fold_keys[i] for i in rows]}
    probs, _, accuracy = (oof or out_of_fold_probabilities)(x, y, n_folds=n_folds, seed=seed, **keys)
    predicted = probs.argmax(axis=1)
    k = min(clusters or default_clusters(len(rows)), len(rows))
    assigned = cluster_embeddings(x, k, seed=seed)
    found = []
    for c in range(k):
        inside = np.flatnonzero(assigned == c)
        right = int((predicted[inside] == y[inside]).sum())
        if len(inside) < min_size or accuracy - right / len(inside) < gap:
            continue
        p = float(binomtest(right, len(inside), accuracy, alternative="less").pvalue)
        if p <= alpha / k:
            found.append((right / len(inside), p, inside))
    found.sort(key=lambda t: (t[0], t[1]))
    regions = [_region(n, inside, acc, accuracy, p, y, predicted, classes, rows, ids, filepaths)
               for n, (acc, p, inside) in enumerate(found[:max_regions], 1)]
    return regions, k, round(accuracy, 6), ""


def _region(number: int, inside: np.ndarray, acc: float, overall: float, p: float, y: np.ndarray,
            predicted: np.ndarray, classes: list[str], rows: np.ndarray, ids: Sequence[str],
            filepaths: Sequence[str]) -> WeakRegion:
    held = Counter(classes[v] for v in y[inside]).most_common()
    wrong = inside[predicted[inside] != y[inside]]
    confused = Counter(classes[v] for v in predicted[wrong]).most_common()
    main = [lab for lab, n in held if n >= 0.15 * len(inside)][:3] or [held[0][0]]
    said = f"{'/'.join(printable(lab) for lab in main)}, {len(inside):,} images, accuracy {acc:.2f} vs {overall:.2f} overall"
    if confused:
        said += f", mostly confused with {printable(confused[0][0])}"
    members = sorted(inside.tolist(), key=lambda i: (predicted[i] == y[i], i))  # misclassified first
    return WeakRegion(number, f"wb-weak-{number}", said, len(inside), round(acc, 6), round(overall, 6),
                      float(f"{p:.6g}"), tuple(held), tuple(confused),
                      tuple(ids[rows[i]] for i in members), tuple(filepaths[rows[i]] for i in members))

"""Class evidence for object crops, without a detector: neighbour votes, out-of-fold probabilities, cleanlab.

Each crop (an annotated box, or a background sample labelled :data:`BACKGROUND`) gets two
class distributions from predictors that never saw its own label: a similarity-weighted vote of
its ``k`` nearest crops (cosine, :func:`workbench.checks.neighbors.exact_neighbors`) and the
out-of-fold probabilities of a logistic regression on the crop features
(:func:`workbench.checks.probe.out_of_fold_probabilities`). Their mean goes to cleanlab
(``filter.find_label_issues``, ``rank.get_label_quality_scores``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The class of crops sampled away from every box.
BACKGROUND = "__background__"


@dataclass(frozen=True)
class CropEvidence:
    """Per crop (rows as given): ``probs`` the mean of ``votes`` and ``oof``; ``issue`` cleanlab's flag;
    ``quality`` cleanlab's label-quality score (low = likely wrong)."""

    probs: np.ndarray
    votes: np.ndarray
    oof: np.ndarray
    issue: np.ndarray
    quality: np.ndarray
    folds: int
    cv_accuracy: float


def neighbor_votes(features: np.ndarray, labels: np.ndarray, n_classes: int, k: int) -> np.ndarray:
    """Each row's class distribution among its ``k`` nearest other rows, weighted by cosine similarity.

    Example:
        >>> x = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], np.float32)
        >>> x /= np.linalg.norm(x, axis=1, keepdims=True)
        >>> neighbor_votes(x, np.array([0, 0, 1, 1]), 2, 1).round(2).tolist()
        [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    """
    from workbench.checks.neighbors import exact_neighbors

    x = np.ascontiguousarray(features, dtype=np.float32)
    k = max(1, min(k, len(x) - 1))
    idx, dist = exact_neighbors(x, np.arange(len(x)), k)
    weights = np.clip(1.0 - dist, 1e-6, None).astype(np.float64)
    votes = np.zeros((len(x), n_classes))
    np.add.at(votes, (np.repeat(np.arange(len(x)), k), labels[idx].ravel()), weights.ravel())
    return votes / votes.sum(axis=1, keepdims=True)


def crop_evidence(features: np.ndarray, labels: np.ndarray, n_classes: int, *, k: int = 10, folds: int = 5,
                  seed: int = 0) -> CropEvidence:
    """Votes, out-of-fold probabilities, their mean, and cleanlab's verdict for every crop.

    Args:
        features: ``[N, D]`` L2-normalised crop vectors.
        labels: ``[N]`` class indices ``0..n_classes-1``, each class with at least 2 rows.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = np.r_[rng.normal(0, 1, (20, 8)) + 4 * np.eye(8)[0], rng.normal(0, 1, (20, 8)) + 4 * np.eye(8)[1]]
        >>> x /= np.linalg.norm(x, axis=1, keepdims=True)
        >>> y = np.r_[np.zeros(20, int), np.ones(20, int)]
        >>> y[0] = 1  # a swapped label
        >>> ev = crop_evidence(x, y, 2, k=5)
        >>> bool(ev.issue[0]), int(ev.issue.sum())
        (True, 1)
    """
    import cleanlab

    from workbench.checks.probe import out_of_fold_probabilities

    votes = neighbor_votes(features, labels, n_classes, k)
    oof, used, accuracy = out_of_fold_probabilities(features, labels, n_folds=folds, seed=seed)
    probs = np.clip((votes + oof) / 2, 1e-9, None)
    probs /= probs.sum(axis=1, keepdims=True)
    issue = cleanlab.filter.find_label_issues(labels, probs, filter_by="prune_by_noise_rate")
    quality = cleanlab.rank.get_label_quality_scores(labels, probs)
    return CropEvidence(probs=probs, votes=votes, oof=oof, issue=np.asarray(issue, bool), quality=quality,
                        folds=used, cv_accuracy=round(accuracy, 4))


def box_verdict(probs: np.ndarray, given: int, flagged: bool, background: int | None,
                background_threshold: float, swap_threshold: float = 0.5) -> tuple[str, int] | None:
    """What a box's evidence says: ``("badly_located", background)``, ``("swapped", other class)``, or ``None``.

    A box is badly located when its crop looks like background (``probs[background]`` at least
    ``background_threshold`` and above the given class). It is swapped when another object class is
    the most likely other class and either cleanlab flagged the box or that class reaches
    ``swap_threshold`` and beats the given one (cleanlab's per-class thresholds miss a wrong label whose
    true class is itself only moderately confident). A flagged box whose most likely other class is
    background is badly located.

    Example:
        >>> box_verdict(np.array([0.1, 0.8, 0.1]), 0, True, 2, 0.5)
        ('swapped', 1)
        >>> box_verdict(np.array([0.1, 0.6, 0.3]), 0, False, 2, 0.75)
        ('swapped', 1)
        >>> box_verdict(np.array([0.2, 0.1, 0.7]), 0, False, 2, 0.5)
        ('badly_located', 2)
        >>> box_verdict(np.array([0.7, 0.2, 0.1]), 0, False, 2, 0.5) is None
        True
    """
    if background is not None and probs[background] >= background_threshold and probs[background] > probs[given]:
        return "badly_located", background
    others = probs.copy()
    others[given] = -1.0
    best = int(others.argmax())
    if best != background and probs[best] >= swap_threshold and probs[best] > probs[given]:
        return "swapped", best
    if not flagged:
        return None
    return ("badly_located" if best == background else "swapped"), best

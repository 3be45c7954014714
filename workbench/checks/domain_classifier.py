"""Split drift: does one split's images look unlike the other splits' images of the same class?

For each split S, a *domain classifier* (the audit's logistic-regression probe,
:func:`workbench.checks.probe.out_of_fold_probabilities`, with two classes: in S or not, on the
embeddings' top :data:`DOMAIN_DIM` principal components) gives every image an out-of-fold probability
P(S) from a model that never saw it. Its AUC (Mann-Whitney) says how
well those scores rank S's images above the rest's:

* **0.5**: the classifier can't tell S from the rest: S looks like a random draw of the same data;
* **1.0**: every image of S looks more like S than any image of the rest does (a split from another
  camera, site, period or preprocessing); under 0.5 is chance or the slight pessimism of cross-validation.

It is measured over all images and within each class (S's images of the class against the other splits'
images of it). Classes differ in how much of them each split holds, and the classifier learns that too;
the **permutation baseline** therefore reassigns split membership at random *within each class* (each
class keeps its count per split) and recomputes the AUCs from the same scores: the overall baseline is
the part of the overall AUC that the class mix explains, and a class's p-value is the share of
reassignments whose AUC reached the observed one. A (split, class) is flagged when its AUC is at least
``auc`` and its p-value at most ``alpha``. Near-duplicates across splits (leaks) make drift look smaller:
they are the same content on both sides.

With two splits one classifier answers both directions, so only the smaller split is tested against the other.
With three or more, a class drifting in one split also sets the other splits' images of it apart from "the
rest" (which holds the drifting ones): of the splits flagged for one class only the highest AUC keeps the
flag, the others name it as ``echo_of``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from workbench.results.drift import ClassDrift, DriftExample, SplitDrift

#: Values (permutations x images) handled at once by the permutation baseline.
_CHUNK = 20_000_000
#: The domain classifier reads the embeddings' top principal components (unsupervised: no leak across
#: folds). On 2,000 Fashion-MNIST images (EfficientNet-Lite0, 1,280 dims) 128 components fit 200x faster
#: than all dimensions and tell a darkened class apart better (AUC 0.77 vs 0.68; five random splits peak
#: at 0.61 vs 0.59): the full-width fit overfits 1,400 training rows. Below 1,280 images one component per
#: 10 images: on 40 images (a split wholly blurred) 128 components, 90 of them empty and rescaled to equal
#: weight, gave AUC 0.27; 4 components separate it.
DOMAIN_DIM = 128


@dataclass(frozen=True)
class DriftFit:
    """One split's drift and, per flagged class, its evidence: ``(row, P(split))``, most split-typical first."""

    drift: SplitDrift
    evidence: dict[str, list[tuple[int, float]]]


def mann_whitney_auc(ranks: np.ndarray, member: np.ndarray) -> np.ndarray:
    """AUC of the members' ranks over the others', for one membership ``[n]`` or many ``[p, n]``.

    Example:
        >>> mann_whitney_auc(np.array([1.0, 2.0, 3.0, 4.0]), np.array([False, False, True, True])).item()
        1.0
    """
    member = np.asarray(member, dtype=np.float64)
    n1 = member.sum(axis=-1)
    n0 = member.shape[-1] - n1
    return (member @ ranks - n1 * (n1 + 1) / 2) / (n1 * n0)


def split_drift(vectors: np.ndarray, splits: Sequence[str | None], labels: Sequence[str | None], *,
                auc: float = 0.65, alpha: float = 0.01, min_class_size: int = 20, permutations: int = 99,
                max_examples: int = 12, n_folds: int = 5, seed: int = 0,
                oof: Callable[..., tuple[np.ndarray, int, float]] | None = None,
                fold_keys: Sequence[str] | None = None) -> tuple[list[DriftFit], list[tuple[str, str]]]:
    """Each split against the rest (two splits: the smaller against the other), over the rows with a split.

    ``fold_keys`` (per row, e.g. the file's content hash) fix each image's fold, so a re-audit that adds
    images does not reshuffle the others' scores (:func:`~workbench.checks.probe.stable_folds`).

    Returns:
        ``(fits, skipped)``: one :class:`DriftFit` per split tested, and ``(split, reason)`` for those not.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(200, 8)).astype(np.float32)
        >>> splits = ["train"] * 100 + ["test"] * 100
        >>> x[100:150] += 3.0  # test's "coat" images moved
        >>> labels = (["coat"] * 50 + ["bag"] * 50) * 2
        >>> fits, _ = split_drift(x, splits, labels, seed=0)
        >>> [(f.drift.split, [c.label for c in f.drift.flagged_classes]) for f in fits]
        [('test', ['coat'])]
    """
    from workbench.checks.probe import out_of_fold_probabilities

    oof = oof or out_of_fold_probabilities
    counts = Counter(s for s in splits if s is not None)
    if len(counts) < 2:
        return [], [("split drift", f"needs two splits or more; the images hold {len(counts)}")]
    names = sorted(counts, key=lambda s: (counts[s], s))[:1] if len(counts) == 2 else sorted(counts)
    from workbench.checks.probe import principal_components

    rows = np.array([i for i, s in enumerate(splits) if s is not None], dtype=np.int64)
    x = np.asarray(vectors, dtype=np.float32)[rows]
    dim = min(DOMAIN_DIM, max(2, len(rows) // 10))  # few images: fewer components, or noise ones weigh as much
    if x.shape[1] > dim:
        x = principal_components(x, dim, seed=seed)
    split_of = np.array([splits[i] for i in rows], dtype=object)
    label_of = [labels[i] for i in rows]
    fits, skipped = [], []
    for name in names:
        member = split_of == name
        if min(member.sum(), (~member).sum()) < 2:
            skipped.append((name, f"{int(member.sum())} images in the split, {int((~member).sum())} in the rest"))
            continue
        keys = {} if fold_keys is None else {"fold_keys": [fold_keys[i] for i in rows]}
        probs, folds, _ = oof(x, member.astype(np.int64), n_folds=n_folds, seed=seed, **keys)
        against = next(s for s in counts if s != name) if len(counts) == 2 else "the other splits"
        fit = _one_split(name, against, probs[:, 1], member, label_of, folds, auc=auc, alpha=alpha,
                         min_class_size=min_class_size, permutations=permutations, max_examples=max_examples,
                         seed=seed)
        fits.append(DriftFit(fit.drift, {k: [(int(rows[i]), p) for i, p in v] for k, v in fit.evidence.items()}))
    return _without_echoes(fits), skipped


def _without_echoes(fits: list[DriftFit]) -> list[DriftFit]:
    """Of the splits flagged for one class, only the one with the highest AUC keeps the flag."""
    import dataclasses

    best: dict[str, tuple[float, str]] = {}
    for fit in fits:
        for c in fit.drift.flagged_classes:
            best[c.label] = max(best.get(c.label, (-1.0, "")), (c.auc or 0.0, fit.drift.split))
    out = []
    for fit in fits:
        echoes = {c.label for c in fit.drift.flagged_classes if best[c.label][1] != fit.drift.split}
        classes = tuple(dataclasses.replace(c, flagged=False, echo_of=best[c.label][1]) if c.label in echoes else c
                        for c in fit.drift.classes)
        out.append(DriftFit(dataclasses.replace(fit.drift, classes=classes),
                            {k: v for k, v in fit.evidence.items() if k not in echoes}))
    return out


def _one_split(name: str, against: str, score: np.ndarray, member: np.ndarray, labels: Sequence[str | None],
               folds: int, *, auc: float, alpha: float, min_class_size: int, permutations: int,
               max_examples: int, seed: int) -> DriftFit:
    from scipy.stats import rankdata

    groups: dict[str | None, np.ndarray] = {}
    for i, lab in enumerate(labels):
        groups.setdefault(lab, []).append(i)  # type: ignore[attr-defined]
    groups = {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}
    ranks = rankdata(score)
    observed = float(mann_whitney_auc(ranks, member))
    tested = {lab: rows for lab, rows in groups.items() if lab is not None
              and min(member[rows].sum(), (~member[rows]).sum()) >= min_class_size}
    class_ranks = {lab: rankdata(score[rows]) for lab, rows in tested.items()}
    overall_null, class_null = _permuted_aucs(ranks, member, groups, class_ranks, tested, permutations, seed)
    classes, evidence = [], {}
    for lab in sorted((k for k in groups if k is not None), key=str):
        rows = groups[lab]
        n1, n0 = int(member[rows].sum()), int((~member[rows]).sum())
        if lab not in tested:
            classes.append(ClassDrift(lab, n1, n0, too_small=True))
            continue
        value = float(mann_whitney_auc(class_ranks[lab], member[rows]))
        null = class_null[lab]
        p = float((1 + np.sum(null >= value - 1e-12)) / (1 + len(null)))
        flagged = value >= auc and p <= alpha
        classes.append(ClassDrift(lab, n1, n0, _r(value), _r(null.mean()), _r(np.quantile(null, 0.95)), _r(p),
                                  flagged))
        if flagged:
            inside = rows[member[rows]]
            top = inside[np.argsort(-score[inside], kind="stable")][:max_examples]
            evidence[lab] = [(int(i), _r(score[i])) for i in top]
    p_all = float((1 + np.sum(overall_null >= observed - 1e-12)) / (1 + len(overall_null)))
    drift = SplitDrift(name, against, int(member.sum()), int((~member).sum()), _r(observed), _r(overall_null.mean()),
                       _r(np.quantile(overall_null, 0.95)), _r(p_all), int(folds), tuple(classes))
    return DriftFit(drift, evidence)


def _permuted_aucs(ranks: np.ndarray, member: np.ndarray, groups: dict, class_ranks: dict, tested: dict,
                   permutations: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """AUCs over ``permutations`` reassignments of ``member`` within each group (class; ``None``: unlabelled)."""
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK // max(len(member), 1))
    overall: list[np.ndarray] = []
    by_class: dict[str, list[np.ndarray]] = {lab: [] for lab in tested}
    for start in range(0, permutations, chunk):
        p = min(chunk, permutations - start)
        shuffled = np.empty((p, len(member)), dtype=bool)
        for rows in groups.values():
            order = np.argsort(rng.random((p, len(rows))), axis=1)
            shuffled[:, rows] = member[rows][order]
        overall.append(mann_whitney_auc(ranks, shuffled))
        for lab, rows in tested.items():
            by_class[lab].append(mann_whitney_auc(class_ranks[lab], shuffled[:, rows]))
    return np.concatenate(overall), {lab: np.concatenate(v) for lab, v in by_class.items()}


def drift_examples(fits: Sequence[DriftFit], ids: Sequence[str], filepaths: Sequence[str]) -> list[DriftExample]:
    """The evidence images of every flagged (split, class), most split-typical first (rows of ``ids``)."""
    return [DriftExample(ids[row], filepaths[row], fit.drift.split, label, p,
                         next(c.auc for c in fit.drift.flagged_classes if c.label == label) or 0.0, rank)
            for fit in fits for label, rows in fit.evidence.items() for rank, (row, p) in enumerate(rows, 1)]


def _r(x: float) -> float:
    return round(float(x), 6) + 0.0

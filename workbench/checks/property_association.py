"""Does one simple property predict the label? The pure numbers behind the spurious-correlation check.

For each property:

* the label is predicted from the property alone, out of fold (stratified folds; a histogram
  classifier over the property's quantile bins, or its categories, so a property that sets one
  class apart at both ends, or a format, counts as much as a monotone one), and the accuracy is
  compared with always guessing the largest class (cleanlab Datalab's score) and with the same
  classifier on permuted labels (a permutation test, so small datasets do not flag chance);
* each class is compared with the rest (one-vs-rest AUC, the best single cut and the shares on its
  side), so a shortcut that sets one class of many apart is found even when the property says
  nothing about the other classes, which a dataset-wide score misses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.results.protocol import printable
from workbench.results.spurious import ClassProfile, PropertyAssociation


def stratified_folds(y: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Per row, its fold: each class's rows shuffled and dealt round the folds.

    Example:
        >>> f = stratified_folds(np.array([0, 0, 1, 1]), 2, np.random.default_rng(0))
        >>> sorted(f[:2].tolist()), sorted(f[2:].tolist())
        ([0, 1], [0, 1])
    """
    out = np.empty(len(y), dtype=np.int64)
    offset = 0
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        out[rng.permutation(rows)] = (np.arange(len(rows)) + offset) % folds
        offset += len(rows)  # the next class starts where this one stopped, so small classes spread out
    return out


def out_of_fold_accuracy(codes: np.ndarray, y: np.ndarray, n_levels: int, n_classes: int, fold: np.ndarray,
                         folds: int) -> float:
    """Accuracy of predicting ``y`` from ``codes`` alone: per fold, each level predicts the class most
    frequent at that level in the other folds (a level they never saw: the largest class).

    Example:
        >>> codes, y = np.array([0, 0, 1, 1] * 5), np.array([0, 0, 1, 1] * 5)
        >>> out_of_fold_accuracy(codes, y, 2, 2, np.arange(20) % 5, 5)
        1.0
    """
    hits = 0
    for k in range(folds):
        test = fold == k
        train = ~test
        table = np.bincount(codes[train] * n_classes + y[train], minlength=n_levels * n_classes)
        table = table.reshape(n_levels, n_classes).astype(np.float64)
        prior = np.bincount(y[train], minlength=n_classes)
        table += prior[None, :] * 1e-9  # ties and unseen levels go to the larger class
        hits += int((table.argmax(axis=1)[codes[test]] == y[test]).sum())
    return hits / len(y)


def property_codes(values: Sequence[Any], kind: str, n_bins: int) -> tuple[np.ndarray, list[str]]:
    """The values as level codes: a number's quantile bin (at most ``n_bins``), a category's index.

    Returns ``(codes, level names)``.

    Example:
        >>> property_codes(["png", "jpeg", "png"], "categorical", 10)
        (array([1, 0, 1]), ['jpeg', 'png'])
    """
    if kind == "categorical":
        levels = sorted({str(v) for v in values})
        index = {lv: k for k, lv in enumerate(levels)}
        return np.array([index[str(v)] for v in values], dtype=np.int64), levels
    x = np.asarray(values, dtype=np.float64)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)[1:-1]))
    codes = np.searchsorted(edges, x, side="right")
    return codes.astype(np.int64), [f"bin {k}" for k in range(len(edges) + 1)]


def _auc_one_vs_rest(ranks: np.ndarray, member: np.ndarray) -> float:
    """Mann-Whitney AUC of the members' values over the others' (from the values' mid-ranks)."""
    n1 = int(member.sum())
    n0 = len(member) - n1
    u = float(ranks[member].sum()) - n1 * (n1 + 1) / 2
    return u / (n1 * n0)


def _best_cut(uniq: np.ndarray, inside: np.ndarray, outside: np.ndarray, high: bool) -> tuple[float, float, float]:
    """The cut whose rule (value ≥ cut if ``high``, else ≤ cut) best separates the members from the others
    (largest share of members minus share of others), from the counts of each at every distinct value
    ``uniq``: ``(cut, share of members, share of others)``."""
    if high:
        tpr = inside[::-1].cumsum()[::-1] / inside.sum()
        fpr = outside[::-1].cumsum()[::-1] / outside.sum()
    else:
        tpr = inside.cumsum() / inside.sum()
        fpr = outside.cumsum() / outside.sum()
    best = int(np.argmax(tpr - fpr))
    return float(uniq[best]), float(tpr[best]), float(fpr[best])


def class_profiles(values: Sequence[Any], kind: str, y: np.ndarray, classes: Sequence[str], *,
                   class_auc: float, min_class_size: int) -> tuple[ClassProfile, ...]:
    """Each class against the rest (see :class:`~workbench.results.spurious.ClassProfile`); a class is
    flagged when its AUC (in the direction of its rule) is at least ``class_auc`` and it and the rest
    both hold ``min_class_size`` images; a class that separates as well but is smaller is marked
    ``too_small`` (said, not flagged).

    Example:
        >>> y = np.array([0] * 30 + [1] * 30)
        >>> p = class_profiles([0.1] * 30 + [0.9] * 30, "numeric", y, ["a", "b"], class_auc=0.9, min_class_size=20)
        >>> p[1].auc, p[1].rule("brightness"), p[1].flagged, p[0].rule("brightness"), p[0].auc
        (1.0, 'brightness ≥ 0.9', True, 'brightness ≤ 0.1', 1.0)
    """
    n = len(y)
    out = []
    # Ranks, distinct values and their counts once per property; each class then needs one bincount.
    if kind == "numeric":
        x = np.asarray(values, dtype=np.float64)
        from scipy.stats import rankdata

        ranks = rankdata(x)
        uniq, codes = np.unique(x, return_inverse=True)
    else:
        x = np.array([str(v) for v in values], dtype=object)
        uniq, codes = np.unique(x, return_inverse=True)
        levels = [str(v) for v in uniq]
    totals = np.bincount(codes, minlength=len(uniq)).astype(np.float64)
    for c, label in enumerate(classes):
        member = y == c
        n1 = int(member.sum())
        if n1 == 0 or n1 == n:
            continue
        big_enough = n1 >= min_class_size and n - n1 >= min_class_size
        inside_n = np.bincount(codes[member], minlength=len(uniq)).astype(np.float64)
        if kind == "numeric":
            auc = _auc_one_vs_rest(ranks, member)
            high = auc >= 0.5
            cut, share_in, share_out = _best_cut(uniq, inside_n, totals - inside_n, high)
            quantiles = tuple(round(float(q), 6) for q in np.percentile(x[member], [5, 25, 50, 75, 95]))
            profile = ClassProfile(label, n1, round(max(auc, 1 - auc), 6), "high" if high else "low", round(cut, 6),
                                   round(share_in, 6), round(share_out, 6), quantiles=quantiles)
        else:
            inside = {lv: float(k / n1) for lv, k in zip(levels, inside_n)}
            outside = {lv: float(k / (n - n1)) for lv, k in zip(levels, totals - inside_n)}
            top = max(levels, key=lambda lv: (inside[lv] - outside[lv], lv))
            auc = 0.5 + (inside[top] - outside[top]) / 2
            profile = ClassProfile(label, n1, round(auc, 6), "is", top, round(inside[top], 6),
                                   round(outside[top], 6), shares={lv: round(s, 6) for lv, s in inside.items() if s})
        strong = profile.auc >= class_auc
        if strong:
            profile = ClassProfile(**{**profile.__dict__, "flagged": big_enough, "too_small": not big_enough})
        out.append(profile)
    return tuple(out)


def associate_property(name: str, kind: str, description: str, values: Sequence[Any], labels: Sequence[str], *,
                       threshold: float = 0.3, class_auc: float = 0.9, min_class_size: int = 20,
                       alpha: float = 0.01, n_bins: int = 10, folds: int = 5, permutations: int = 199,
                       seed: int = 0) -> PropertyAssociation:
    """How much one property (its values and the labels of the same rows, no missing values) predicts the label.

    The property is flagged when it predicts the labels (``uncorrelatedness`` ≤ ``threshold`` and the
    permutation p-value ≤ ``alpha``) or when it tells at least one class apart (see :func:`class_profiles`).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> labels = ["bag"] * 50 + ["shoe"] * 50
        >>> values = list(rng.normal(0.3, 0.05, 50)) + list(rng.normal(0.7, 0.05, 50))
        >>> a = associate_property("brightness", "numeric", "mean luma", values, labels)
        >>> a.flagged, a.uncorrelatedness, [c.label for c in a.flagged_classes]
        (True, 0.0, ['bag', 'shoe'])
    """
    from workbench.checks.bias import chi2_cramers_v

    classes = sorted(set(labels))
    index = {c: k for k, c in enumerate(classes)}
    y = np.array([index[lab] for lab in labels], dtype=np.int64)
    codes, levels = property_codes(values, kind, n_bins)
    rng = np.random.default_rng(seed)
    accuracy = out_of_fold_accuracy(codes, y, len(levels), len(classes), stratified_folds(y, folds, rng), folds)
    baseline = float(np.bincount(y).max() / len(y))
    score = 1.0 if baseline >= 1.0 else min(1.0, (1.0 - accuracy) / (1.0 - baseline))
    reached = sum(out_of_fold_accuracy(codes, yp, len(levels), len(classes), stratified_folds(yp, folds, rng),
                                       folds) >= accuracy
                  for yp in (rng.permutation(y) for _ in range(permutations)))
    p_value = (1 + reached) / (1 + permutations)
    table = np.bincount(codes * len(classes) + y, minlength=len(levels) * len(classes)).reshape(len(levels), -1)
    _, _, cramers_v = chi2_cramers_v(table)
    profiles = class_profiles(values, kind, y, classes, class_auc=class_auc, min_class_size=min_class_size)
    reasons = []
    if score <= threshold and p_value <= alpha:
        reasons.append(f"predicts the labels: {accuracy:.0%} out-of-fold accuracy against {baseline:.0%} for "
                       f"the largest class (score {score:.2f} ≤ {threshold:g}; permutation p {p_value:.3g})")
    for c in sorted((c for c in profiles if c.flagged), key=lambda c: -c.strength):
        reasons.append(f"tells '{printable(c.label)}' apart: AUC {c.auc:.2f}; {c.share_in_class:.0%} of it vs "
                       f"{c.share_in_rest:.0%} of the rest have {c.rule(name)}")
    notes = tuple(f"'{printable(c.label)}' ({c.n} images) is told apart as clearly (AUC {c.auc:.2f}; "
                  f"{c.rule(name)}), but a class and the rest need {min_class_size} images each to be flagged"
                  for c in profiles if c.too_small)
    return PropertyAssociation(name, kind, description, len(y), round(accuracy, 6), round(baseline, 6),
                               round(score, 6), round(p_value, 6), round(cramers_v, 6), bool(reasons),
                               tuple(reasons), profiles, notes=notes)


def valid_rows(values: Sequence[Any], labels: Sequence[str | None]) -> list[int]:
    """Rows with a label and a value (a number must be finite)."""
    def ok(v: Any) -> bool:
        if v is None:
            return False
        return not isinstance(v, float) or math.isfinite(v)

    return [i for i, (v, lab) in enumerate(zip(values, labels)) if lab is not None and ok(v)]

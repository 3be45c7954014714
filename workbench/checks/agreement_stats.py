"""Agreement between annotators on class labels: Cohen's kappa per pair, Fleiss' kappa and
Krippendorff's alpha overall, and the annotator x annotator matrix. Pure numpy; ``None`` stands for
a rating an annotator did not give, and a statistic that is undefined (one class only) is ``None``.

Example:
    >>> ratings = [("cat", "cat"), ("cat", "dog"), ("dog", "dog"), ("dog", "dog")]
    >>> round(cohen_kappa([r[0] for r in ratings], [r[1] for r in ratings]), 4)
    0.5
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

Label = Hashable


@dataclass(frozen=True)
class PairStats:
    """Two annotators on the items both rated: how often they gave the same label, and Cohen's kappa."""

    a: str
    b: str
    n_items: int
    observed: float | None
    kappa: float | None


def cohen_kappa(a: Sequence[Label | None], b: Sequence[Label | None]) -> float | None:
    """Cohen's kappa of two raters on the items both rated: ``(p_o - p_e) / (1 - p_e)``.

    ``p_o`` is the share of items with the same label, ``p_e`` the agreement expected by chance from
    each rater's own label shares. ``None`` when no item was rated by both, or chance agreement is 1.

    Example:
        >>> round(cohen_kappa(["x", "x", "y", None], ["x", "y", "y", "y"]), 6)  # p_o 2/3, p_e 2/3*1/3 + 1/3*2/3
        0.4
    """
    both = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    if not both:
        return None
    n = len(both)
    p_o = sum(x == y for x, y in both) / n
    ca, cb = Counter(x for x, _ in both), Counter(y for _, y in both)
    p_e = sum(ca[k] * cb[k] for k in ca) / (n * n)
    return None if p_e >= 1 else (p_o - p_e) / (1 - p_e)


def observed_agreement(a: Sequence[Label | None], b: Sequence[Label | None]) -> float | None:
    """The share of items rated by both on which they gave the same label.

    Example:
        >>> observed_agreement(["x", "y", None], ["x", "x", "x"])
        0.5
    """
    both = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    return sum(x == y for x, y in both) / len(both) if both else None


def fleiss_kappa(ratings: Sequence[Sequence[Label | None]]) -> float | None:
    """Fleiss' kappa over the items every annotator rated (it assumes a fixed number of raters).

    ``P_i = (sum_j n_ij^2 - m) / (m (m - 1))`` per item with ``m`` raters, ``p_j`` each class's share
    of all ratings, ``kappa = (mean P_i - sum p_j^2) / (1 - sum p_j^2)``.

    Example:
        >>> round(fleiss_kappa([("x", "x", "x"), ("x", "y", "y"), ("y", "y", "y")]), 4)  # (63/81 - 41/81) / (40/81)
        0.55
    """
    full = [tuple(r) for r in ratings if r and all(x is not None for x in r)]
    if not full:
        return None
    m = len(full[0])
    if m < 2:
        return None
    classes = sorted({x for r in full for x in r}, key=repr)
    index = {c: k for k, c in enumerate(classes)}
    counts = np.zeros((len(full), len(classes)))
    for i, r in enumerate(full):
        for x in r:
            counts[i, index[x]] += 1
    p_i = ((counts ** 2).sum(axis=1) - m) / (m * (m - 1))
    p_j = counts.sum(axis=0) / (len(full) * m)
    p_e = float((p_j ** 2).sum())
    return None if p_e >= 1 else (float(p_i.mean()) - p_e) / (1 - p_e)


def krippendorff_alpha(ratings: Sequence[Sequence[Label | None]]) -> float | None:
    """Krippendorff's alpha for nominal labels; items may miss ratings (items with fewer than two are
    left out, as the coefficient defines).

    Coincidences: each item with ``m_u`` ratings adds ``1 / (m_u - 1)`` to ``o[c, k]`` for every ordered
    pair of its ratings (``c``, ``k``) by different raters. With ``n_c = sum_k o[c, k]`` and ``n = sum n_c``:
    ``alpha = 1 - (n - 1) * sum_{c != k} o[c, k] / sum_{c != k} n_c n_k``.

    Example:
        >>> krippendorff_alpha([("x", "x"), ("y", "y"), ("x", None)])
        1.0
    """
    units = [[x for x in r if x is not None] for r in ratings]
    units = [u for u in units if len(u) >= 2]
    if not units:
        return None
    classes = sorted({x for u in units for x in u}, key=repr)
    index = {c: k for k, c in enumerate(classes)}
    o = np.zeros((len(classes), len(classes)))
    for u in units:
        counts = np.zeros(len(classes))
        for x in u:
            counts[index[x]] += 1
        # ordered pairs of distinct ratings: counts_c * counts_k, minus the rating paired with itself
        o += (np.outer(counts, counts) - np.diag(counts)) / (len(u) - 1)
    n_c = o.sum(axis=1)
    n = float(n_c.sum())
    expected = float(n * n - (n_c ** 2).sum())  # sum over c != k of n_c n_k
    if expected <= 0:
        return None
    disagree = float(o.sum() - np.trace(o))
    return 1.0 - (n - 1) * disagree / expected


def pair_matrix(ratings: Sequence[Sequence[Label | None]], annotators: Sequence[str]) -> tuple[PairStats, ...]:
    """Observed agreement and Cohen's kappa for each pair of annotators (``a`` before ``b``).

    Example:
        >>> [(p.a, p.b, p.observed) for p in pair_matrix([("x", "x", "y")], ["p", "q", "r"])]
        [('p', 'q', 1.0), ('p', 'r', 0.0), ('q', 'r', 0.0)]
    """
    out = []
    for i, a in enumerate(annotators):
        for j in range(i + 1, len(annotators)):
            col_a, col_b = [r[i] for r in ratings], [r[j] for r in ratings]
            n = sum(x is not None and y is not None for x, y in zip(col_a, col_b))
            out.append(PairStats(a, annotators[j], n, observed_agreement(col_a, col_b), cohen_kappa(col_a, col_b)))
    return tuple(out)


def pairwise_share(row: Sequence[Label | None]) -> float | None:
    """The share of annotator pairs that gave one item the same label (``None``: fewer than two ratings).

    Example:
        >>> round(pairwise_share(("x", "x", "y")), 4)  # 1 of 3 pairs
        0.3333
    """
    given = [x for x in row if x is not None]
    pairs = [(x, y) for k, x in enumerate(given) for y in given[k + 1:]]
    return sum(x == y for x, y in pairs) / len(pairs) if pairs else None


def majority_label(row: Sequence[Label | None]) -> tuple[Label | None, float]:
    """The most given label of one item and the share of its ratings that gave it (ties: the label that
    sorts first, so the choice is stable).

    Example:
        >>> majority_label(("dog", "cat", "dog", None))
        ('dog', 0.6666666666666666)
    """
    counts = Counter(x for x in row if x is not None)
    if not counts:
        return None, 0.0
    top = max(counts.values())
    label = min((c for c, n in counts.items() if n == top), key=repr)
    return label, top / sum(counts.values())

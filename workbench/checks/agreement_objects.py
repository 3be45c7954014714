"""Agreement between annotators on objects (boxes or mask regions): optimal matching, per-pair and
per-image numbers, and a consensus box per object most annotators drew.

Two annotators' objects on one image are matched as an assignment problem: the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``) maximises the total IoU, pairs under ``min_iou`` count as
unmatched. Matching ignores the class, so a box both drew with different classes is a *label*
disagreement on a matched pair rather than two unmatched boxes. Pure numpy/scipy.

Example:
    >>> m = match_objects(box_iou_matrix([(0, 0, .5, .5)], [(0, 0, .5, .4), (.6, .6, .2, .2)]))
    >>> [(x.i, x.j, round(x.iou, 2)) for x in m]
    [(0, 0, 0.8)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from workbench.checks.box_match import Box, iou

#: Matched pairs under this IoU count as unmatched (the usual detection-evaluation threshold).
MIN_IOU = 0.5


@dataclass(frozen=True)
class Match:
    """Object ``i`` of the first annotator matched with object ``j`` of the second at ``iou``."""

    i: int
    j: int
    iou: float


def box_iou_matrix(boxes_a: Sequence[Box | None], boxes_b: Sequence[Box | None]) -> np.ndarray:
    """``[len(a), len(b)]`` IoU of relative ``(x, y, w, h)`` boxes (a missing box overlaps nothing).

    Example:
        >>> box_iou_matrix([(0, 0, 2, 2)], [(1, 0, 2, 2), None]).round(4).tolist()
        [[0.3333, 0.0]]
    """
    out = np.zeros((len(boxes_a), len(boxes_b)))
    for i, a in enumerate(boxes_a):
        for j, b in enumerate(boxes_b):
            if a is not None and b is not None:
                out[i, j] = min(1.0, iou(a, b))  # identical boxes can round to 1 + 1e-16
    return out


def mask_regions(mask: Any, background: Sequence[int] = (0,)) -> tuple[list[int], list[np.ndarray]]:
    """A semantic mask's class regions: each value other than ``background`` and its pixels.

    Example:
        >>> values, regions = mask_regions(np.array([[0, 1], [2, 2]]))
        >>> values, [int(r.sum()) for r in regions]
        ([1, 2], [1, 2])
    """
    mask = np.asarray(mask)
    if mask.ndim == 3:
        mask = mask[..., 0]
    values = [int(v) for v in np.unique(mask) if int(v) not in set(background)]
    return values, [mask == v for v in values]


def mask_iou_matrix(regions_a: Sequence[np.ndarray], regions_b: Sequence[np.ndarray]) -> np.ndarray:
    """Pixel IoU of every region of one mask with every region of the other (same shape; differently
    sized masks overlap nothing).

    Example:
        >>> a = np.array([[1, 1], [0, 0]]) == 1
        >>> b = np.array([[1, 0], [0, 0]]) == 1
        >>> mask_iou_matrix([a], [b]).tolist()
        [[0.5]]
    """
    out = np.zeros((len(regions_a), len(regions_b)))
    for i, a in enumerate(regions_a):
        for j, b in enumerate(regions_b):
            if a.shape == b.shape:
                union = np.logical_or(a, b).sum()
                out[i, j] = np.logical_and(a, b).sum() / union if union else 0.0
    return out


def match_objects(ious: np.ndarray, *, min_iou: float = MIN_IOU) -> tuple[Match, ...]:
    """The one-to-one matching that maximises the total IoU; pairs under ``min_iou`` are dropped
    (and never constrain the others: their IoU counts as 0 in the assignment).

    Example:
        >>> [(m.i, m.j) for m in match_objects(np.array([[0.9, 0.67], [0.74, 0.43]]))]  # greedy: (0, 0) only
        [(0, 1), (1, 0)]
    """
    ious = np.asarray(ious, dtype=np.float64)
    if ious.size == 0:
        return ()
    from scipy.optimize import linear_sum_assignment

    gain = np.where(ious >= min_iou, ious, 0.0)
    rows, cols = linear_sum_assignment(gain, maximize=True)
    return tuple(Match(int(i), int(j), float(ious[i, j])) for i, j in zip(rows, cols) if ious[i, j] >= min_iou)


def pair_score(matches: Sequence[Match], n_a: int, n_b: int) -> float:
    """One image's agreement between two annotators: the matched IoU summed, over matched pairs plus
    unmatched objects on either side (an unmatched object counts as IoU 0); 1 when neither drew any.

    Example:
        >>> pair_score([Match(0, 0, 0.8)], 1, 2)  # 0.8 / (1 matched + 0 + 1 unmatched)
        0.4
    """
    if n_a == 0 and n_b == 0:
        return 1.0
    unmatched = n_a + n_b - 2 * len(matches)
    return sum(m.iou for m in matches) / (len(matches) + unmatched)


@dataclass(frozen=True)
class ConsensusObject:
    """An object most annotators drew: its majority class, the boxes averaged (weighted by each box's
    mean IoU with the others), the mean pairwise IoU of those boxes times the share of annotators who
    drew it (``agreement``), and how many did."""

    label: str
    box: tuple[float, float, float, float]
    agreement: float
    n_annotators: int


def consensus_objects(labels: Sequence[Sequence[str]], boxes: Sequence[Sequence[Box | None]],
                      matches: dict[tuple[int, int], Sequence[Match]], *, quorum: int | None = None
                      ) -> tuple[ConsensusObject, ...]:
    """Fuse one image's matched boxes: objects linked by matches (any pair of annotators) form a group;
    a group with boxes from at least ``quorum`` annotators (default: more than half, and 2) becomes
    one consensus object. ``labels[k]``, ``boxes[k]``: annotator ``k``'s objects; ``matches[(k, l)]``
    the matches of ``k`` with ``l`` (``k < l``).

    Example:
        >>> c = consensus_objects([["car"], ["car"]], [[(0, 0, .4, .4)], [(0, 0, .4, .5)]], {(0, 1): [Match(0, 0, .8)]})
        >>> c[0].label, [round(v, 3) for v in c[0].box], round(c[0].agreement, 2)
        ('car', [0.0, 0.0, 0.4, 0.45], 0.8)
    """
    from workbench.checks.agreement_stats import majority_label

    n = len(labels)
    quorum = quorum or max(2, n // 2 + 1)
    parent: dict[tuple[int, int], tuple[int, int]] = {(k, i): (k, i) for k in range(n) for i in range(len(labels[k]))}

    def root(x: tuple[int, int]) -> tuple[int, int]:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    pair_iou: dict[frozenset, float] = {}
    for (k, l), found in matches.items():
        for m in found:
            parent[root((k, m.i))] = root((l, m.j))
            pair_iou[frozenset({(k, m.i), (l, m.j)})] = m.iou
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for node in parent:
        groups.setdefault(root(node), []).append(node)
    out = []
    for members in groups.values():
        annotators = {k for k, _ in members}
        usable = [(k, i) for k, i in members if boxes[k][i] is not None]
        if len(annotators) < quorum or len(usable) < 2:
            continue
        overlaps = {x: [pair_iou.get(frozenset({x, y}),
                                     iou(boxes[x[0]][x[1]], boxes[y[0]][y[1]]))  # type: ignore[arg-type]
                        for y in usable if y != x] for x in usable}
        weights = np.array([np.mean(overlaps[x]) for x in usable])
        coords = np.array([boxes[k][i] for k, i in usable], dtype=np.float64)
        fused = (coords * weights[:, None]).sum(axis=0) / weights.sum() if weights.sum() > 0 else coords.mean(axis=0)
        label, _ = majority_label([labels[k][i] for k, i in members])
        mean_pair = float(np.mean([v for vs in overlaps.values() for v in vs]))
        out.append(ConsensusObject(str(label), tuple(float(v) for v in fused),  # type: ignore[arg-type]
                                   mean_pair * len(annotators) / n, len(annotators)))
    return tuple(sorted(out, key=lambda o: (o.box[1], o.box[0])))

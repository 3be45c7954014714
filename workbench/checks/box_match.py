"""Comparing the objects of two images: IoU, a class summary, and whether two annotations agree.

Used where copies of one picture meet (duplicates, leakage: a copy whose boxes or classes differ
is a conflict) and by the object-level checks.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

Box = tuple[float, float, float, float]

#: Boxes of one class matched at this IoU or more count as the same object.
MATCH_IOU = 0.5


def intersection(a: Box, b: Box) -> float:
    """The area two ``(x, y, w, h)`` boxes share.

    Example:
        >>> intersection((0.0, 0.0, 2.0, 2.0), (1.0, 0.0, 2.0, 2.0))
        2.0
    """
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes.

    Example:
        >>> iou((0, 0, 2, 2), (1, 0, 2, 2))
        0.3333333333333333
    """
    inter = intersection(a, b)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def objects_summary(labels: Sequence[str | None]) -> str:
    """An image's objects as one comparable string, e.g. ``"bus, car ×2"`` (``"(no objects)"``).

    Example:
        >>> objects_summary(["car", "bus", "car"])
        'bus, car ×2'
    """
    counts = Counter(str(lab) for lab in labels)
    return ", ".join(f"{lab} ×{n}" if n > 1 else lab for lab, n in sorted(counts.items())) or "(no objects)"


def boxes_agree(labels_a: Sequence[str | None], boxes_a: Sequence[Box | None], labels_b: Sequence[str | None],
                boxes_b: Sequence[Box | None], *, min_iou: float = MATCH_IOU) -> bool:
    """Whether every object of one image has a same-class box in the other at ``min_iou`` or more
    (greedy, best pairs first), and none is left over.

    Example:
        >>> boxes_agree(["car"], [(0.1, 0.1, 0.5, 0.5)], ["car"], [(0.12, 0.1, 0.5, 0.5)])
        True
        >>> boxes_agree(["car"], [(0.1, 0.1, 0.5, 0.5)], ["car"], [(0.6, 0.6, 0.3, 0.3)])
        False
    """
    if len(labels_a) != len(labels_b) or Counter(labels_a) != Counter(labels_b):
        return False
    candidates = sorted(((iou(a, b), i, j) for i, (la, a) in enumerate(zip(labels_a, boxes_a))
                         for j, (lb, b) in enumerate(zip(labels_b, boxes_b))
                         if la == lb and a is not None and b is not None), reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    for overlap, i, j in candidates:
        if overlap >= min_iou and i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
    return len(used_a) == len(labels_a)

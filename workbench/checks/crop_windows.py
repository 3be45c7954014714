"""Where to cut crops that are not annotated boxes: background samples and object proposals.

All boxes are FiftyOne's relative ``(x, y, w, h)``; everything here is plain geometry, seeded,
with no image read. Background samples teach the crop classifier what "no object" looks like (a
shifted box's crop is mostly background); sliding windows are the places an overlooked object
might be.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from workbench.checks.box_match import intersection, iou

Box = tuple[float, float, float, float]


def overlap_share(a: Box, b: Box) -> float:
    """The area of ``a ∩ b`` over the smaller box's area (1 when one box holds the other).

    Example:
        >>> overlap_share((0.0, 0.0, 0.2, 0.2), (0.1, 0.1, 0.5, 0.5))
        0.25
    """
    smaller = min(a[2] * a[3], b[2] * b[3])
    return round(intersection(a, b) / smaller, 6) if smaller > 0 else 0.0


def _away(box: Box, annotated: Sequence[Box], max_share: float) -> bool:
    return all(overlap_share(box, a) <= max_share for a in annotated)


def image_seed(seed: int, image_hash: str) -> int:
    """A per-image seed from the run's seed and the image's content (stable when rows move).

    Example:
        >>> image_seed(0, "ab") == image_seed(0, "ab") != image_seed(1, "ab")
        True
    """
    return zlib.crc32(f"{seed}|{image_hash}".encode())


def background_boxes(annotated: Sequence[Box], sizes: np.ndarray, n: int, *, seed: int,
                     max_share: float = 0.1, tries: int = 50) -> list[Box]:
    """Up to ``n`` boxes of the given ``sizes`` (rows ``(w, h)``, drawn at random) that overlap no
    annotated box by more than ``max_share`` of the smaller area.

    Example:
        >>> boxes = background_boxes([(0.0, 0.0, 0.5, 0.5)], np.array([[0.2, 0.2]]), 2, seed=0)
        >>> len(boxes), all(overlap_share(b, (0.0, 0.0, 0.5, 0.5)) <= 0.1 for b in boxes)
        (2, True)
    """
    rng = np.random.default_rng(seed)
    out: list[Box] = []
    for _ in range(tries):
        if len(out) >= n or not len(sizes):
            break
        w, h = (float(v) for v in sizes[rng.integers(len(sizes))])
        w, h = min(w, 1.0), min(h, 1.0)
        box = (float(rng.uniform(0, 1 - w)), float(rng.uniform(0, 1 - h)), w, h)
        if _away(box, [*annotated, *out], max_share):
            out.append(box)
    return out


def shifted_boxes(annotated: Sequence[Box], n: int, *, seed: int, shift: tuple[float, float] = (0.6, 0.9),
                  max_iou: float = 0.25, tries: int = 50) -> list[Box]:
    """Up to ``n`` copies of annotated boxes moved by ``shift`` of their size (random direction), inside
    the image and with IoU at most ``max_iou`` with every box: hard background, part object and part not.

    Example:
        >>> [b] = shifted_boxes([(0.4, 0.4, 0.2, 0.2)], 1, seed=0)
        >>> iou(b, (0.4, 0.4, 0.2, 0.2)) <= 0.25
        True
    """
    rng = np.random.default_rng(seed)
    out: list[Box] = []
    for _ in range(tries):
        if len(out) >= n or not annotated:
            break
        x, y, w, h = annotated[int(rng.integers(len(annotated)))]
        angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(*shift)
        box = (float(x + dist * w * np.cos(angle)), float(y + dist * h * np.sin(angle)), w, h)
        if 0 <= box[0] <= 1 - w and 0 <= box[1] <= 1 - h and all(iou(box, a) <= max_iou for a in annotated):
            out.append(box)
    return out


def window_sizes(sizes: np.ndarray, labels: Sequence[str], max_scales: int) -> list[tuple[float, float]]:
    """Window sizes for proposals: each class's median box ``(w, h)``; sizes within 25% of a kept
    one are dropped; the classes with most boxes come first, at most ``max_scales`` sizes.

    Example:
        >>> window_sizes(np.array([[0.2, 0.2], [0.22, 0.2], [0.5, 0.4]]), ["a", "a", "b"], 3)
        [(0.21, 0.2), (0.5, 0.4)]
    """
    out: list[tuple[float, float]] = []
    order = sorted(set(labels), key=lambda c: (-list(labels).count(c), c))
    for c in order:
        rows = [i for i, lab in enumerate(labels) if lab == c]
        w, h = (round(float(v), 4) for v in np.median(sizes[rows], axis=0))
        if all(not (0.8 <= w / ow <= 1.25 and 0.8 <= h / oh <= 1.25) for ow, oh in out):
            out.append((w, h))
        if len(out) >= max_scales:
            break
    return out


def sliding_windows(annotated: Sequence[Box], sizes: Sequence[tuple[float, float]], *, max_windows: int,
                    max_overlap_iou: float = 0.3, stride: float = 0.5) -> list[Box]:
    """Windows of each size at ``stride`` times the size (the last one flush with the edge) whose IoU
    with every annotated box is below ``max_overlap_iou`` and that hold under half of any box (nor lie
    half inside one); thinned evenly to ``max_windows``.

    Example:
        >>> len(sliding_windows([], [(0.5, 0.5)], max_windows=100))
        9
        >>> len(sliding_windows([(0.0, 0.0, 0.5, 0.5)], [(0.5, 0.5)], max_windows=100))
        6
    """
    out: list[Box] = []
    for w, h in sizes:
        if not (0 < w <= 1 and 0 < h <= 1):
            continue
        xs = _positions(w, stride)
        ys = _positions(h, stride)
        for y in ys:
            for x in xs:
                box = (x, y, w, h)
                if away_from(box, annotated, max_overlap_iou):
                    out.append(box)
    if len(out) > max_windows:
        keep = np.unique(np.linspace(0, len(out) - 1, max_windows).round().astype(int))
        out = [out[i] for i in keep]
    return out


def _positions(size: float, stride: float) -> list[float]:
    step = max(size * stride, 1e-3)
    pos = list(np.arange(0.0, 1.0 - size + 1e-9, step))
    if not pos or pos[-1] < 1.0 - size - 1e-6:
        pos.append(1.0 - size)
    return [round(float(p), 4) for p in pos]


def non_max_suppression(boxes: Sequence[Box], scores: Sequence[float], *, max_iou: float = 0.3) -> list[int]:
    """Indices of the boxes kept, best score first: a box overlapping a kept one by IoU above ``max_iou``
    (or by more than half the smaller box) is dropped.

    Example:
        >>> non_max_suppression([(0, 0, 0.5, 0.5), (0.05, 0, 0.5, 0.5), (0.5, 0.5, 0.4, 0.4)], [0.8, 0.9, 0.7])
        [1, 2]
    """
    kept: list[int] = []
    for i in sorted(range(len(boxes)), key=lambda j: -scores[j]):
        if all(iou(boxes[i], boxes[j]) <= max_iou and overlap_share(boxes[i], boxes[j]) <= 0.5 for j in kept):
            kept.append(i)
    return kept


def nearby_boxes(box: Box, *, shifts: Sequence[float] = (-0.5, 0.0, 0.5),
                 scales: Sequence[float] = (1.0,)) -> list[Box]:
    """Boxes around ``box``: each scale of its size (about its centre) moved by every pair of ``shifts``
    (shares of the scaled size), pushed inside the image; ``box`` itself and repeats are left out.

    Example:
        >>> len(nearby_boxes((0.4, 0.4, 0.2, 0.2)))
        8
        >>> nearby_boxes((0.0, 0.0, 0.2, 0.2), shifts=(0.0,), scales=(0.5,))
        [(0.05, 0.05, 0.1, 0.1)]
    """
    _, _, w, h = box
    return _placed_around(box, [(w * s, h * s, dx * min(w * s, 1.0), dy * min(h * s, 1.0))
                                for s in scales for dy in shifts for dx in shifts])


def refinement_steps(box: Box, step: float) -> list[Box]:
    """Boxes one step from ``box``: moved by ``step`` of its width or height in each of the 4 directions,
    grown and shrunk by ``step`` about its centre, and widened, narrowed, heightened and flattened by
    ``step`` (an aspect change); pushed inside the image, repeats and ``box`` itself left out.

    Example:
        >>> len(refinement_steps((0.4, 0.4, 0.2, 0.2), 0.25))
        10
        >>> (0.45, 0.4, 0.2, 0.2) in refinement_steps((0.4, 0.4, 0.2, 0.2), 0.25)
        True
    """
    _, _, w, h = box
    grow, shrink = 1.0 + step, 1.0 / (1.0 + step)
    shapes = [(w, h, dx * w, dy * h) for dx, dy in ((step, 0.0), (-step, 0.0), (0.0, step), (0.0, -step))]
    shapes += [(w * f, h * g, 0.0, 0.0) for f, g in ((grow, grow), (shrink, shrink), (grow, 1.0), (shrink, 1.0),
                                                       (1.0, grow), (1.0, shrink))]
    return _placed_around(box, shapes)


def _placed_around(box: Box, shapes: Sequence[tuple[float, float, float, float]]) -> list[Box]:
    """Boxes of each ``(width, height, dx, dy)`` centred on ``box``'s centre moved by ``(dx, dy)``, sizes
    capped at 1, pushed inside the image, rounded to 4 decimals; repeats and ``box`` itself left out."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    own = tuple(round(float(v), 4) for v in box)
    out: list[Box] = []
    for sw, sh, dx, dy in shapes:
        sw, sh = min(sw, 1.0), min(sh, 1.0)
        nx = min(max(cx - sw / 2 + dx, 0.0), 1.0 - sw)
        ny = min(max(cy - sh / 2 + dy, 0.0), 1.0 - sh)
        b = (round(nx, 4), round(ny, 4), round(sw, 4), round(sh, 4))
        if b != own and b not in out:
            out.append(b)
    return out


def away_from(box: Box, annotated: Sequence[Box], max_overlap_iou: float) -> bool:
    """Whether ``box`` may hold an object no annotated box covers: IoU under ``max_overlap_iou`` with every
    box, and neither holding half of one nor lying half inside one (the rule :func:`sliding_windows` uses).

    Example:
        >>> away_from((0.5, 0.5, 0.2, 0.2), [(0.0, 0.0, 0.3, 0.3)], 0.3)
        True
        >>> away_from((0.1, 0.1, 0.2, 0.2), [(0.0, 0.0, 0.3, 0.3)], 0.3)
        False
    """
    return all(iou(box, a) < max_overlap_iou and overlap_share(box, a) < 0.5 for a in annotated)

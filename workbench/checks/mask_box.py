"""Whether an object's instance mask agrees with its box: pure geometry, numpy in, small tuples out.

An instance mask belongs to its object's box: FiftyOne's ``Detection.mask`` covers the box by
definition, while COCO's ``segmentation`` is drawn in image pixels and may stray outside it (a mask
shifted past its box, or swapped with another object's). What the objects check needs of it is
small, so the table keeps a :class:`MaskShape` per object instead of the mask: the tight box around
all the mask's pixels (relative to the image, like the annotated box) and the share of the box the
pixels fill. :func:`mask_disagreement` then says
whether the two disagree: ``empty_mask`` (no pixel at all), or ``mask_box_mismatch`` (the tight box
overlaps the annotated one with IoU under ``min_iou``, or the pixels fill under ``min_fill`` of it:
a mask shifted inside its box, drawn for another object, or a stray speck).

Example:
    >>> import numpy as np
    >>> mask = np.zeros((10, 20), bool); mask[:, :10] = True        # the left half of its box
    >>> shape = mask_shape(mask, (0.0, 0.0, 0.4, 0.2))
    >>> shape.box, shape.fill
    ((0.0, 0.0, 0.2, 0.2), 0.5)
    >>> mask_disagreement(shape, (0.0, 0.0, 0.4, 0.2), min_iou=0.7, min_fill=0.02)
    ('mask_box_mismatch', 0.5)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from workbench.checks.box_match import Box, iou
from workbench.results.mask_grid import MaskGrid, mask_grid

#: Kinds :func:`mask_disagreement` returns.
EMPTY_MASK, MASK_BOX_MISMATCH = "empty_mask", "mask_box_mismatch"


class MaskShape(NamedTuple):
    """What an instance mask says about its object: the tight box around its pixels (relative ``(x, y, w, h)``;
    ``None`` when it has none), the share of its annotated box the pixels fill (0 to 1), and the pixels on a
    coarse grid over the tight box, for drawing (:class:`~workbench.results.mask_grid.MaskGrid`; ``None``:
    not kept)."""

    box: Box | None
    fill: float
    grid: MaskGrid | None = None

    def to_list(self) -> list[float]:
        """``[x, y, w, h, fill]``, or ``[]`` for an empty mask: how it is stored on a FiftyOne object."""
        return [] if self.box is None else [*(round(v, 6) for v in self.box), round(self.fill, 6)]

    @classmethod
    def from_list(cls, values: Any, grid: Any = None) -> MaskShape | None:
        """The inverse of :meth:`to_list`; ``None`` for anything else (no mask summary). ``grid`` is the stored
        :meth:`MaskGrid.to_list` (anything malformed: no grid)."""
        if not isinstance(values, (list, tuple)):
            return None
        if not values:
            return cls(None, 0.0)
        try:
            x, y, w, h, fill = (float(v) for v in values)
        except (TypeError, ValueError):
            return None
        return cls((x, y, w, h), fill, MaskGrid.from_list((x, y, w, h), grid))


def mask_shape(mask: Any, box: Box, *, covers: Box | None = None) -> MaskShape:
    """The :class:`MaskShape` of ``mask``, a 2-D array (any resolution; non-zero is the object) over ``covers``
    of the image (relative ``(x, y, w, h)``; by default ``box`` itself, as FiftyOne's ``Detection.mask``),
    with its :func:`~workbench.results.mask_grid.mask_grid`.

    A wider ``covers`` (a COCO segmentation drawn in image pixels around its box) lets the mask lie outside
    its box: its pixels there widen the tight box (and the grid) but fill none of the box. A 3-D mask
    (channels) counts a pixel when any channel is non-zero.

    Example:
        >>> import numpy as np
        >>> mask = np.zeros((10, 20), bool); mask[:, 10:] = True    # the right half of a 20 x 10 px image
        >>> mask_shape(mask, (0.0, 0.0, 0.5, 1.0), covers=(0.0, 0.0, 1.0, 1.0))[:2]   # the box: the left half
        ((0.5, 0.0, 0.5, 1.0), 0.0)
    """
    import numpy as np

    pixels = np.asarray(mask)
    if pixels.ndim == 3:
        pixels = pixels.any(axis=2)
    grid = mask_grid(pixels, box if covers is None else covers) if pixels.ndim == 2 else None
    if grid is None:
        return MaskShape(None, 0.0)
    on = pixels != 0
    return MaskShape(grid.box, float(on.mean()) if covers is None else _fill(on, box, covers), grid)


def _fill(on: Any, box: Box, covers: Box) -> float:
    """The share of ``box`` that the on pixels of ``on`` (a bool array over ``covers`` of the image) fill."""
    rows, cols = on.shape
    cx, cy, cw, ch = covers
    if cw <= 0 or ch <= 0:
        return 0.0
    c0, c1 = round((box[0] - cx) * cols / cw), round((box[0] + box[2] - cx) * cols / cw)
    r0, r1 = round((box[1] - cy) * rows / ch), round((box[1] + box[3] - cy) * rows / ch)
    inside = int(on[max(r0, 0):max(r1, 0), max(c0, 0):max(c1, 0)].sum())
    return min(1.0, inside / max((c1 - c0) * (r1 - r0), 1))


def mask_disagreement(shape: MaskShape, box: Box, *, min_iou: float, min_fill: float) -> tuple[str | None, float]:
    """``(kind or None, IoU of the mask's tight box with the annotated box)``; see the module docstring."""
    if shape.box is None:
        return EMPTY_MASK, 0.0
    overlap = iou(shape.box, box)
    return (MASK_BOX_MISMATCH if overlap < min_iou or shape.fill < min_fill else None), round(overlap, 4)


def polygon_mask(polygons: Any, origin: tuple[int, int], size: tuple[int, int]) -> Any:
    """COCO polygons (``[[x1, y1, x2, y2, ...], ...]`` in image pixels) drawn on a ``size`` = ``(w, h)`` canvas
    whose top-left pixel is ``origin`` of the image; ``None`` when they are not polygons."""
    import numpy as np
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (max(size[0], 1), max(size[1], 1)), 0)
    draw = ImageDraw.Draw(canvas)
    try:
        for poly in polygons:
            points = [(float(poly[k]) - origin[0], float(poly[k + 1]) - origin[1]) for k in range(0, len(poly) - 1, 2)]
            if len(points) >= 3:
                draw.polygon(points, fill=1)
            elif points:
                draw.point(points, fill=1)
    except (TypeError, ValueError, IndexError):
        return None
    return np.asarray(canvas)


def polygon_extent(polygons: Any) -> tuple[float, float, float, float] | None:
    """``(min x, min y, max x, max y)`` of the vertices of COCO polygons; ``None`` when they are not polygons
    or hold no vertex.

    Example:
        >>> polygon_extent([[12, 22, 16, 22, 16, 26], [40, 1, 41, 2, 40, 3]]), polygon_extent([["x", 1]])
        ((12.0, 1.0, 41.0, 26.0), None)
    """
    try:
        xs = [float(poly[k]) for poly in polygons for k in range(0, len(poly) - 1, 2)]
        ys = [float(poly[k + 1]) for poly in polygons for k in range(0, len(poly) - 1, 2)]
    except (TypeError, ValueError, IndexError):
        return None
    if not xs or not all(map(math.isfinite, xs + ys)):
        return None
    return min(xs), min(ys), max(xs), max(ys)


def rle_mask(counts: Any, height: int, width: int) -> Any:
    """An uncompressed COCO RLE (``counts`` a list, column-major, starting with a run of zeros) as an array;
    ``None`` when it doesn't describe ``height x width`` pixels."""
    import numpy as np

    try:
        runs = np.asarray(counts, dtype=np.int64)
    except (TypeError, ValueError):
        return None
    if runs.ndim != 1 or (runs < 0).any() or int(runs.sum()) != height * width:
        return None
    values = np.repeat(np.arange(len(runs)) % 2, runs).astype(np.uint8)
    return values.reshape(width, height).T

"""Whether an object's instance mask agrees with its box: pure geometry, numpy in, small tuples out.

An instance mask (FiftyOne's ``Detection.mask``, COCO's ``segmentation``) covers its object's box.
What the objects check needs of it is small, so the table keeps a :class:`MaskShape` per object
instead of the mask: the tight box around the mask's pixels (relative to the image, like the
annotated box) and the share of the box the pixels fill. :func:`mask_disagreement` then says
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


def mask_shape(mask: Any, box: Box) -> MaskShape:
    """The :class:`MaskShape` of ``mask``, a 2-D array covering ``box`` (any resolution; non-zero is the object),
    with its :func:`~workbench.results.mask_grid.mask_grid`.

    A 3-D mask (channels) counts a pixel when any channel is non-zero.
    """
    import numpy as np

    pixels = np.asarray(mask)
    if pixels.ndim == 3:
        pixels = pixels.any(axis=2)
    grid = mask_grid(pixels, box) if pixels.ndim == 2 else None
    if grid is None:
        return MaskShape(None, 0.0)
    return MaskShape(grid.box, float((pixels != 0).mean()), grid)


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

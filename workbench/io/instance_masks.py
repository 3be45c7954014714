"""Instance masks read down to what the objects check needs: one :class:`~workbench.checks.mask_box.MaskShape`
per object, computed while loading so that no whole mask is kept.

- :func:`read_mask_shapes`: a FiftyOne ``Detections`` field whose objects carry masks (``mask`` or
  ``mask_path``), read a chunk of samples at a time, or the summaries the COCO importer stored;
- :func:`add_coco_mask_shapes`: a COCO JSON's ``segmentation`` (polygons, or uncompressed RLE, both in
  image pixels) of each annotation summarised on its whole extent in the image, inside its ``bbox`` or
  not, and stored on the annotation as ``wb_mask`` (``[x, y, w, h, fill]``, ``[]`` when empty) and
  ``wb_mask_grid`` (the pixels on a coarse grid over that tight box, for drawing:
  :meth:`~workbench.results.mask_grid.MaskGrid.to_list`), which FiftyOne's COCO importer keeps as
  attributes of the object. Compressed RLE strings are not decoded (no summary: not checked).
  FiftyOne's own conversion of a segmentation into ``Detection.mask`` crops it to the box; workbench
  doesn't use it.

Example:
    >>> coco = {"images": [{"id": 1, "width": 10, "height": 10}], "annotations": [
    ...     {"id": 1, "image_id": 1, "bbox": [0, 0, 4, 4], "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]]}]}
    >>> add_coco_mask_shapes(coco)["annotations"][0]["wb_mask"]
    [0.0, 0.0, 0.4, 0.4, 1.0]
"""

from __future__ import annotations

import logging
import math
from typing import Any

from workbench.checks.mask_box import (
    MaskShape,
    mask_shape,
    polygon_extent,
    polygon_mask,
    rle_mask,
)

log = logging.getLogger(__name__)

#: The object attributes holding a mask summary (:meth:`MaskShape.to_list`) and its grid (``MaskGrid.to_list``).
ATTRIBUTE = "wb_mask"
GRID_ATTRIBUTE = "wb_mask_grid"
#: Samples whose masks are read at once.
CHUNK = 256


def _has_segmentation(annotation: dict) -> bool:
    seg = annotation.get("segmentation")
    return bool(seg) and (not isinstance(seg, list) or any(seg))


def add_coco_mask_shapes(coco: dict) -> dict:
    """``coco`` with a ``wb_mask`` summary on each annotation when any annotation has a segmentation.

    A JSON without segmentations (a detection-only export) is returned as it is. Where others have
    one, an annotation whose ``segmentation`` is empty (``[]``: FiftyOne's exporter writes that for a
    mask without pixels) gets ``[]`` (an empty mask); one without the key (or ``null``) has no mask.
    """
    annotations = coco.get("annotations") or []
    if not any(isinstance(a, dict) and _has_segmentation(a) for a in annotations):
        return coco
    sizes = {img.get("id"): (img.get("width"), img.get("height")) for img in coco.get("images") or []
             if isinstance(img, dict)}
    out, undecoded = [], 0
    for ann in annotations:
        if not isinstance(ann, dict) or ann.get("segmentation") is None:
            out.append(ann)
            continue
        shape = _coco_shape(ann, sizes.get(ann.get("image_id"), (None, None)))
        if shape is None:
            undecoded += _has_segmentation(ann)
            out.append(ann)
        else:
            grid = {GRID_ATTRIBUTE: shape.grid.to_list()} if shape.grid is not None else {}
            out.append(dict(ann, **{ATTRIBUTE: shape.to_list()}, **grid))
    if undecoded:
        log.warning("%d COCO segmentations (compressed RLE, or malformed) were not decoded: their masks are not "
                    "compared with their boxes", undecoded)
    return dict(coco, annotations=out)


def _coco_shape(ann: dict, size: tuple[Any, Any]) -> MaskShape | None:
    width, height = size
    try:
        x, y, w, h = (float(v) for v in ann["bbox"])
        width, height = int(width), int(height)
    except (KeyError, TypeError, ValueError):
        return None
    if not (w > 0 and h > 0 and width > 0 and height > 0):
        return None
    x0, y0, x1, y1 = round(x), round(y), max(round(x + w), round(x) + 1), max(round(y + h), round(y) + 1)
    box = (x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height)
    seg = ann.get("segmentation")
    if not _has_segmentation(ann):
        return MaskShape(None, 0.0)
    if isinstance(seg, list):
        extent = polygon_extent(seg)
        if extent is None:
            return None
        left, top = math.floor(extent[0]), math.floor(extent[1])
        right, bottom = max(math.ceil(extent[2]), left + 1), max(math.ceil(extent[3]), top + 1)
        region = _region((x0, y0, x1, y1), (left, top, right, bottom), width, height)
        mask = polygon_mask(seg, region[:2], (region[2] - region[0], region[3] - region[1]))
        if mask is not None:  # PIL fills the pixel on a far vertex too: a vertex on x = 20.0 ends before pixel 20
            mask = mask.copy()
            mask[max(bottom - region[1], 0):, :] = 0
            mask[:, max(right - region[0], 0):] = 0
    elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):
        full = rle_mask(seg["counts"], height, width)
        if full is None:
            return None
        rows, cols = full.any(axis=1).nonzero()[0], full.any(axis=0).nonzero()[0]
        extent = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1) if len(rows) else (x0, y0, x1, y1)
        region = _region((x0, y0, x1, y1), extent, width, height)
        mask = full[region[1]:region[3], region[0]:region[2]]
    else:
        return None
    if mask is None or not math.prod(mask.shape):
        return None
    covers = (region[0] / width, region[1] / height, (region[2] - region[0]) / width, (region[3] - region[1]) / height)
    return mask_shape(mask, box, covers=covers)


def _region(box: tuple[int, int, int, int], extent: tuple[int, int, int, int], width: int, height: int
            ) -> tuple[int, int, int, int]:
    """The pixels ``(x0, y0, x1, y1)`` (ends excluded) spanning both the box and the mask's ``extent``, within the
    ``width`` x ``height`` image and at least one pixel: a COCO mask is judged on its whole extent, not only on the
    part inside its box."""
    x0 = min(max(min(box[0], extent[0]), 0), width - 1)
    y0 = min(max(min(box[1], extent[1]), 0), height - 1)
    return x0, y0, max(min(max(box[2], extent[2]), width), x0 + 1), max(min(max(box[3], extent[3]), height), y0 + 1)


def read_mask_shapes(dataset: Any, field: str) -> list[list[MaskShape | None]] | None:
    """Per sample, each object's mask summary (``None``: the object has no mask) of a ``Detections`` field,
    aligned with ``dataset.values(f"{field}.detections")``; ``None`` when no object has one.

    Masks are read :data:`CHUNK` samples at a time and summarised at once; masks stored in files
    (``mask_path``) are opened one by one. An unreadable mask file counts as no mask.
    """
    from workbench._fo import fiftyone

    fo = fiftyone()
    path = f"{field}.detections"
    if not any(dataset.aggregate([fo.Count(f"{path}.{key}") for key in ("mask", "mask_path", ATTRIBUTE)])):
        return None  # one pass over the objects: no mask anywhere
    ids = dataset.values("id")
    out: list[list[MaskShape | None]] = []
    for start in range(0, len(ids), CHUNK):
        view = dataset.select(ids[start:start + CHUNK], ordered=True)
        columns = view.values([f"{path}.bounding_box", f"{path}.mask", f"{path}.mask_path", f"{path}.{ATTRIBUTE}",
                               f"{path}.{GRID_ATTRIBUTE}"])
        for boxes, masks, paths, stored, grids in zip(*columns):
            n = len(boxes or [])
            out.append([_shape(*values) for values in zip(boxes or [], masks or [None] * n, paths or [None] * n,
                                                          stored or [None] * n, grids or [None] * n)])
    return out


def _shape(box: Any, mask: Any, mask_file: str | None, summary: Any, grid: Any = None) -> MaskShape | None:
    if mask is None and mask_file:
        mask = _read_mask_file(mask_file)
    if mask is None:
        return MaskShape.from_list(summary, grid)
    try:
        return mask_shape(mask, tuple(float(v) for v in box))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _read_mask_file(path: str) -> Any:
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as img:
            return np.asarray(img)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        log.debug("unreadable instance mask %s: %s", path, exc)
        return None

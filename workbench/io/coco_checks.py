"""Validate a parsed COCO detection JSON before FiftyOne imports it.

Malformed entries are dropped from a *copy* and reported, so one bad box does not stop
the audit of the rest. Boxes are checked against their image's ``width``/``height``:
a box that overlaps the image but extends past an edge is clipped to it and reported
(overshoots up to :data:`ROUNDING_TOLERANCE_PX` are clipped silently); a box entirely
outside the image, or with no area, is dropped and reported. An image without a usable
``width``/``height`` gets them from ``measure`` (its file's header) when it can; otherwise
its annotations are dropped, since they can't be placed on it. Pure: takes and returns
plain data (``measure`` is the only way in to the files).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from workbench.errors import SourceError

#: Overshoot past an image edge, in pixels, treated as rounding: clipped without a report.
ROUNDING_TOLERANCE_PX = 0.5


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_size(v: Any) -> bool:
    return _is_number(v) and v > 0


def clip_bbox(bbox: list[float], width: float, height: float, *, tolerance: float = ROUNDING_TOLERANCE_PX
              ) -> tuple[list[float] | None, str | None]:
    """Judge a COCO ``[x, y, width, height]`` box (pixels) against its image: ``(box or None, reason or None)``.

    Returns the box clipped to the image, or None when it has no area or lies entirely
    outside; the reason is set for a dropped box and for one clipped by more than ``tolerance``.

    Example:
        >>> clip_bbox([30, 5, 20, 10], 40, 40)
        ([30, 5, 10, 10], 'extends past the right edge of the 40x40 image (x + width = 50); clipped to the image')
        >>> clip_bbox([50, 5, 20, 10], 40, 40)[1]
        'lies entirely outside the 40x40 image; dropped'
    """
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        return None, "has a non-positive width or height (no area); dropped"
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    size = f"{width:g}x{height:g}"
    if x1 <= x0 or y1 <= y0:
        return None, f"lies entirely outside the {size} image; dropped"
    over = [(name, detail) for name, amount, detail in (
        ("left", -x, f"x = {x:g}"), ("top", -y, f"y = {y:g}"),
        ("right", x + w - width, f"x + width = {x + w:g}"), ("bottom", y + h - height, f"y + height = {y + h:g}"))
        if amount > tolerance]
    clipped = [x0, y0, x1 - x0, y1 - y0]
    if over:
        edges = " and ".join(n for n, _ in over)
        return clipped, (f"extends past the {edges} edge{'s' if len(over) > 1 else ''} of the {size} image "
                         f"({', '.join(d for _, d in over)}); clipped to the image")
    return (list(bbox) if clipped == list(bbox) else clipped), None


def validate_coco(data: Any, *, source: str = "COCO JSON",
                  measure: Callable[[str], tuple[int, int] | None] | None = None) -> tuple[dict, list[dict]]:
    """Return ``(clean, problems)``: a copy of the COCO dict fit to import, and what was wrong.

    ``clean`` lacks the malformed entries, its boxes are clipped to their images, and every
    image has a ``width``/``height`` (None when they are unknown; such an image keeps no
    annotations). The input is not modified. Each problem is
    ``{"source", "kind": "annotation", "message", "file_name"}``.

    Args:
        data: the parsed JSON.
        source: the file it came from, named in the problems.
        measure: ``file_name -> (width, height)`` or None, asked for images whose JSON entry
            lacks a usable size (e.g. reading the image file's header).

    Raises:
        SourceError: the top-level structure itself is unusable.

    Example:
        >>> clean, problems = validate_coco({"images": [{"id": 1, "file_name": "a.jpg", "width": 9, "height": 9}],
        ...     "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, -5, 3]}],
        ...     "categories": [{"id": 1, "name": "cat"}]})
        >>> len(clean["annotations"]), problems[0]["message"][:23]
        (0, 'annotation 1: bbox [0, ')
    """
    if not isinstance(data, dict):
        raise SourceError(f"{source}: the top level must be a JSON object with 'images', 'annotations' "
                          "and 'categories'")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key, []), list):
            raise SourceError(f"{source}: '{key}' must be a list")
    problems: list[dict] = []

    def bad(message: str, file_name: str | None = None) -> None:
        problems.append({"source": source, "kind": "annotation", "message": message, "file_name": file_name})

    categories = []
    for cat in data.get("categories", []):
        if isinstance(cat, dict) and "id" in cat and isinstance(cat.get("name"), str):
            categories.append(cat)
        else:
            bad(f"category {cat!r:.80}: needs an 'id' and a string 'name'; fix the category list")
    cat_ids = {c["id"] for c in categories}

    images, seen_ids = [], set()
    for img in data.get("images", []):
        if not (isinstance(img, dict) and "id" in img and isinstance(img.get("file_name"), str)):
            bad(f"image {img!r:.80}: needs an 'id' and a string 'file_name'")
            continue
        if img["id"] in seen_ids:
            bad(f"image id {img['id']!r} appears twice; the second entry was skipped", img["file_name"])
            continue
        seen_ids.add(img["id"])
        if not (_is_size(img.get("width")) and _is_size(img.get("height"))):
            img = _sized(img, measure, bad)
        images.append(img)
    names = {img["id"]: img["file_name"] for img in images}
    sizes = {img["id"]: (img["width"], img["height"]) for img in images}

    annotations = []
    for ann in data.get("annotations", []):
        if not isinstance(ann, dict):
            bad(f"annotation {ann!r:.80} is not an object")
            continue
        aid, image_id = ann.get("id", "?"), ann.get("image_id")
        file_name = names.get(image_id)
        if image_id not in names:
            bad(f"annotation {aid}: image_id {image_id!r} matches no image", None)
            continue
        if ann.get("category_id") not in cat_ids:
            bad(f"annotation {aid}: category_id {ann.get('category_id')!r} matches no category", file_name)
            continue
        width, height = sizes[image_id]
        if width is None:
            bad(f"annotation {aid}: image {file_name!r} has no known width/height; dropped", file_name)
            continue
        bbox = ann.get("bbox")
        if bbox is not None:
            if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
                bad(f"annotation {aid}: bbox {bbox!r:.60} is not [x, y, width, height] numbers", file_name)
                continue
            box, reason = clip_bbox(bbox, width, height)
            if reason:
                bad(f"annotation {aid}: bbox {bbox} {reason}", file_name)
            if box is None:
                continue
            if box != bbox:
                ann = dict(ann, bbox=box)
        annotations.append(ann)

    clean = dict(data)
    clean.update(images=images, annotations=annotations, categories=categories)
    return clean, problems


def _sized(img: dict, measure: Callable[[str], tuple[int, int] | None] | None,
           bad: Callable[[str, str | None], None]) -> dict:
    """A copy of an image entry lacking a usable size, with the size measured from its file or None."""
    got = f"width {img.get('width')!r}, height {img.get('height')!r}"
    size = measure(img["file_name"]) if measure is not None else None
    if size is not None:
        bad(f"image {img['file_name']!r} (id {img['id']!r}) has no usable width/height in the JSON ({got}); "
            f"took {size[0]}x{size[1]} from the file", img["file_name"])
        return dict(img, width=size[0], height=size[1])
    bad(f"image {img['file_name']!r} (id {img['id']!r}) has no usable width/height in the JSON ({got}) and "
        "its file can't be measured; its annotations were dropped", img["file_name"])
    return dict(img, width=None, height=None)

"""Validate a parsed COCO detection JSON before FiftyOne imports it.

Malformed entries are dropped from a *copy* and reported, so one bad box does not stop
the audit of the rest. Pure: takes and returns plain data.
"""

from __future__ import annotations

import math
from typing import Any

from workbench.errors import SourceError


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def validate_coco(data: Any, *, source: str = "COCO JSON") -> tuple[dict, list[dict]]:
    """Return ``(clean, problems)``: the COCO dict without malformed entries and what was dropped.

    Each problem is ``{"source", "kind": "annotation", "message", "file_name"}``.

    Raises:
        SourceError: the top-level structure itself is unusable.

    Example:
        >>> clean, problems = validate_coco({"images": [{"id": 1, "file_name": "a.jpg"}],
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
        images.append(img)
    names = {img["id"]: img["file_name"] for img in images}

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
        bbox = ann.get("bbox")
        if bbox is not None:
            if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
                bad(f"annotation {aid}: bbox {bbox!r:.60} is not [x, y, width, height] numbers", file_name)
                continue
            if bbox[2] <= 0 or bbox[3] <= 0:
                bad(f"annotation {aid}: bbox {bbox} has a non-positive width or height", file_name)
                continue
        annotations.append(ann)

    clean = dict(data)
    clean.update(images=images, annotations=annotations, categories=categories)
    return clean, problems

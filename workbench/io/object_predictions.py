"""A detector's predicted boxes for a detection dataset: a FiftyOne ``Detections`` field or a COCO results JSON.

``--predictions`` on a detection dataset names either

- a sample field holding ``fo.Detections`` with a ``confidence`` on every detection (a sample whose
  field is ``None`` was not predicted; an empty ``Detections`` was predicted and holds nothing), or
- a COCO results file: a JSON list of ``{"image_id" or "file_name", "category_id" or "category_name",
  "bbox": [x, y, w, h] in pixels, "score"}``. ``image_id`` is the image's id in the ground-truth COCO
  JSON the dataset was loaded from (or the samples' ``coco_id`` field); ``file_name`` is the image's path
  relative to the dataset's folder or images folder, or its bare name when that is unique.
  ``category_id`` is the COCO category id (the dataset's class list, 0-based, when it was not loaded
  from COCO). Images with no entry are not assessed.

The file must lie inside the dataset's folder (``workbench.io.boundary``) unless ``allow_outside_root``;
nothing the file names is ever opened. Every problem is a :class:`~workbench.errors.PredictionsError`
saying where and what to fix; a bad file never falls back to anything.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from workbench.checks.inputs import ObjectPredictions
from workbench.errors import PredictionsError
from workbench.io.boundary import is_within

log = logging.getLogger(__name__)

RESULTS_SHAPE = ('a JSON list of {"image_id" or "file_name", "category_id", "bbox": [x, y, w, h] in pixels, '
                 '"score"} (COCO results)')


def object_predictions_from_field(values: Sequence[Any], field: str) -> dict[int, list[tuple[str, tuple, float]]]:
    """Per row, the ``(label, relative box, confidence)`` of each detection in a field's values.

    Raises:
        PredictionsError: a value that isn't ``Detections``, a detection without a confidence or with a bad box.

    Example:
        >>> import fiftyone as fo  # doctest: +SKIP
        >>> object_predictions_from_field([fo.Detections(detections=[fo.Detection(label="cat",
        ...     bounding_box=[0.1, 0.1, 0.5, 0.5], confidence=0.9)]), None], "predictions")  # doctest: +SKIP
        {0: [('cat', (0.1, 0.1, 0.5, 0.5), 0.9)]}
    """
    out: dict[int, list[tuple[str, tuple, float]]] = {}
    for row, value in enumerate(values):
        if value is None:
            continue
        dets = getattr(value, "detections", None)
        if dets is None:
            raise PredictionsError(f"predictions field {field!r} holds {type(value).__name__}; a detection dataset "
                                   "needs Detections (with confidences) or a COCO results JSON")
        boxes = []
        for det in dets:
            where = f"predictions field {field!r}, detection {det.id} of sample row {row}"
            box = _box(det.bounding_box, where, relative=True)
            boxes.append((str(det.label), box, _score(det.confidence, where)))
        out[row] = boxes
    return out


def read_coco_results(path: str | Path, *, filepaths: Sequence[str], sizes: Sequence[tuple[int | None, int | None]],
                      categories: Mapping[int, str], image_ids: Mapping[int, int], roots: Sequence[str] = (),
                      allow_outside_root: bool = False, known: set[str] | None = None,
                      ) -> tuple[dict[int, list[tuple[str, tuple, float]]], int]:
    """A COCO results JSON as ``({table row: [(label, relative box, score), ...]}, entries matching no image)``.

    Args:
        filepaths, sizes: the table's image paths and ``(width, height)`` in pixels (``None``: unknown).
        categories: ``{category_id: class name}``.
        image_ids: ``{COCO image id: table row}``.
        roots: the dataset's folders (``dataset_roots``); the file must lie inside one unless
            ``allow_outside_root`` (no roots: anywhere).
        known: the class names a ``category_name`` may take (``None``: any).

    Raises:
        PredictionsError: a missing, unreadable or malformed file, naming the entry and what to fix.

    Example:
        >>> rows, unmatched = read_coco_results("preds.json", filepaths=["/d/a.jpg"], sizes=[(100, 50)],
        ...                                     categories={1: "cat"}, image_ids={7: 0})  # doctest: +SKIP
        >>> rows[0]  # doctest: +SKIP
        [('cat', (0.1, 0.2, 0.5, 0.4), 0.93)]
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise PredictionsError(f"predictions file {path} does not exist; pass {RESULTS_SHAPE} or the name of a "
                               "sample field holding Detections")
    if roots and not allow_outside_root and not is_within(str(path), roots):
        raise PredictionsError(f"predictions file {path} resolves outside the dataset folder ({', '.join(roots)}); "
                               "move it inside the dataset folder or pass --allow-outside-root")
    entries = _read_json_list(path)
    by_name = _names_to_rows(filepaths, roots)
    out: dict[int, list[tuple[str, tuple, float]]] = {}
    unmatched = 0
    for n, entry in enumerate(entries):
        where = f"{path} entry {n}"
        if not isinstance(entry, dict):
            raise PredictionsError(f"{where}: {type(entry).__name__} is not an object; expected {RESULTS_SHAPE}")
        row = _row_of(entry, where, image_ids, by_name)
        label = _category(entry, where, categories, known)
        box = _box(entry.get("bbox"), where, relative=False)
        score = _score(entry.get("score"), where)
        if row is None:
            unmatched += 1
            continue
        width, height = sizes[row]
        if not width or not height:
            log.warning("%s: the image %s has no known size; its predictions are left out", where, filepaths[row])
            continue
        x, y, w, h = box
        out.setdefault(row, []).append((label, (x / width, y / height, w / width, h / height), score))
    if unmatched:
        log.warning("%s: %d of %d predictions name images that are not in the dataset; ignored", path, unmatched,
                    len(entries))
    return out, unmatched


def _read_json_list(path: Path) -> list:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PredictionsError(f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                               f"expected {RESULTS_SHAPE}") from None
    if not text.strip():
        raise PredictionsError(f"{path} is empty; expected {RESULTS_SHAPE}")
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PredictionsError(f"{path} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); expected "
                               f"{RESULTS_SHAPE}") from None
    if isinstance(entries, dict) and isinstance(entries.get("annotations"), list):
        raise PredictionsError(f"{path} is a COCO dataset (images, annotations), not detector results; expected "
                               f"{RESULTS_SHAPE}")
    if not isinstance(entries, list):
        raise PredictionsError(f"{path} holds a JSON {type(entries).__name__}; expected {RESULTS_SHAPE}")
    return entries


def _names_to_rows(filepaths: Sequence[str], roots: Sequence[str]) -> dict[str, int | None]:
    """``file_name`` keys to rows: real paths, paths relative to each root, and bare names (``None``: ambiguous)."""
    out: dict[str, int | None] = {}
    bare: dict[str, int | None] = {}
    for row, fp in enumerate(filepaths):
        real = os.path.realpath(fp)
        out[real] = row
        for root in roots:
            if is_within(real, [root]):
                out[os.path.relpath(real, root)] = row
        name = os.path.basename(fp)
        bare[name] = None if name in bare else row
    return {**bare, **out}


def _row_of(entry: dict, where: str, image_ids: Mapping[int, int], by_name: Mapping[str, int | None]) -> int | None:
    if "image_id" in entry:
        key = entry["image_id"]
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            raise PredictionsError(f"{where}: image_id {key!r} is not an id")
        if not image_ids:
            raise PredictionsError(f"{where}: image_id needs a dataset loaded from a COCO JSON (or a 'coco_id' "
                                   "field); give each entry a 'file_name' instead")
        try:
            return image_ids.get(int(key))
        except ValueError:
            raise PredictionsError(f"{where}: image_id {key!r} is not a whole number") from None
    name = entry.get("file_name")
    if not isinstance(name, str) or not name:
        raise PredictionsError(f"{where}: no 'image_id' or 'file_name'; expected {RESULTS_SHAPE}")
    norm = os.path.normpath(name)
    if norm in by_name:
        row = by_name[norm]
        if row is None:
            raise PredictionsError(f"{where}: file_name {name!r} names several images of the dataset; give its "
                                   "path relative to the dataset folder")
        return row
    return by_name.get(os.path.realpath(name)) if os.path.isabs(name) else None


def _category(entry: dict, where: str, categories: Mapping[int, str], known: set[str] | None = None) -> str:
    if isinstance(entry.get("category_name"), str):
        name = entry["category_name"]
        if known and name not in known:
            raise PredictionsError(f"{where}: unknown category_name {name!r}; the dataset's classes are "
                                   f"{', '.join(sorted(known)[:10])}")
        return name
    cat = entry.get("category_id")
    if isinstance(cat, bool) or not isinstance(cat, int):
        raise PredictionsError(f"{where}: category_id {cat!r} is not a whole number; expected {RESULTS_SHAPE}")
    if cat not in categories:
        known = ", ".join(f"{k}={v}" for k, v in sorted(categories.items())[:10])
        raise PredictionsError(f"{where}: unknown category_id {cat}; the dataset's categories are "
                               f"{known or 'none'}")
    return categories[cat]


def _box(value: Any, where: str, *, relative: bool) -> tuple[float, float, float, float]:
    unit = "relative" if relative else "pixels"
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise PredictionsError(f"{where}: bbox {value!r} is not [x, y, w, h] ({unit})")
    try:
        box = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise PredictionsError(f"{where}: bbox {value!r} holds a value that is not a number") from None
    if not all(math.isfinite(v) for v in box) or min(box) < 0 or box[2] <= 0 or box[3] <= 0:
        raise PredictionsError(f"{where}: bbox {list(value)!r} must be finite, non-negative, with a width and "
                               f"height above 0 ([x, y, w, h], {unit})")
    return box  # type: ignore[return-value]


def _score(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PredictionsError(f"{where}: score {value!r} is not a number; each predicted box needs its "
                               "confidence in [0, 1]")
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise PredictionsError(f"{where}: score {value!r} is not a confidence in [0, 1]")
    return float(value)


def coco_ground_truth(info: Mapping[str, Any], filepaths: Sequence[str]) -> tuple[dict[int, str], dict[int, int]]:
    """``({category_id: name}, {image id: table row})`` from the COCO JSON(s) a dataset was loaded from.

    Empty for a dataset not loaded from COCO. An image id used by two files of different images maps to
    neither (ambiguous).
    """
    from workbench.io.sources import coco_images_dir, read_json, resolve_source

    if info.get("format") != "coco" or not info.get("source"):
        return {}, {}
    roots = list(info.get("roots") or [])
    spec = resolve_source(info["source"], "coco", images=roots[1] if len(roots) > 1 else None)
    rows = {os.path.realpath(fp): row for row, fp in enumerate(filepaths)}
    categories: dict[int, str] = {}
    ids: dict[int, int | None] = {}
    for split, labels_path in spec.parts:
        raw = read_json(labels_path)
        if not isinstance(raw, dict):
            continue
        images_dir = spec.images_dir or coco_images_dir(labels_path, split)
        for cat in raw.get("categories") or []:
            if isinstance(cat, dict) and isinstance(cat.get("id"), int) and isinstance(cat.get("name"), str):
                categories[cat["id"]] = cat["name"]
        for img in raw.get("images") or []:
            if not isinstance(img, dict) or not isinstance(img.get("id"), int):
                continue
            row = rows.get(os.path.realpath(images_dir / str(img.get("file_name"))))
            if row is not None:
                ids[img["id"]] = row if ids.get(img["id"], row) == row else None
    return categories, {k: v for k, v in ids.items() if v is not None}


def read_object_predictions(spec: str, *, filepaths: Sequence[str], sizes: Sequence[tuple[int | None, int | None]],
                            dataset: Any, info: Mapping[str, Any], roots: Sequence[str] = (),
                            allow_outside_root: bool = False, classes: Sequence[str] = ()) -> ObjectPredictions:
    """``--predictions`` of a detection dataset: a COCO results JSON (a ``.json`` path or any file) or a field.

    Raises:
        PredictionsError: neither a file nor a Detections field, a malformed file, or nothing matches.

    Example:
        >>> preds = read_object_predictions("preds.json", filepaths=fps, sizes=sizes, dataset=ds,
        ...                                 info=ds.info["workbench"])  # doctest: +SKIP
    """
    path = Path(spec).expanduser()
    unmatched = 0
    source = str(spec)  # a field's name, or the file's absolute path (what the JSON export promises)
    if path.suffix.lower() == ".csv":
        raise PredictionsError(f"predictions {spec!r}: a CSV of class probabilities is for classification; a "
                               f"detection dataset takes {RESULTS_SHAPE} or a field holding Detections")
    if path.suffix.lower() == ".json" or path.is_file():
        categories, ids = coco_ground_truth(info, filepaths)
        if not categories:  # not loaded from COCO: ids index the dataset's class list (its own, else the
            # classes its boxes carry, sorted: what the report lists)
            listed = list(getattr(dataset, "default_classes", None) or []) or sorted(set(classes))
            categories = dict(enumerate(listed))
        if not ids and dataset is not None and "coco_id" in dataset.get_field_schema():
            ids = {int(v): row for row, v in enumerate(dataset.values("coco_id")) if v is not None}
        source = os.path.abspath(path)
        per_row, unmatched = read_coco_results(path, filepaths=filepaths, sizes=sizes, categories=categories,
                                               image_ids=ids, roots=roots, allow_outside_root=allow_outside_root,
                                               known=set(categories.values()) | set(classes))
    elif dataset is not None and spec in dataset.get_field_schema():
        per_row = object_predictions_from_field(dataset.values(spec), spec)
    else:
        raise PredictionsError(f"predictions {spec!r} is neither a file nor a field of the dataset; pass "
                               f"{RESULTS_SHAPE} or a field holding Detections with confidences")
    if not per_row:
        raise PredictionsError(f"predictions {spec!r} match no image of the dataset ({unmatched} entries name "
                               "images it does not hold); check the image ids or file names")
    rows = sorted(per_row)
    return ObjectPredictions(rows=tuple(rows), labels=tuple(tuple(p[0] for p in per_row[r]) for r in rows),
                             boxes=tuple(tuple(p[1] for p in per_row[r]) for r in rows),
                             scores=tuple(tuple(p[2] for p in per_row[r]) for r in rows), source=source,
                             n_unmatched=unmatched)

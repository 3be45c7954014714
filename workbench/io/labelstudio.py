"""Label Studio's "JSON" export read into COCO's shape, one annotator at a time, for
:func:`workbench.io.annotator_files.add_annotator_file`.

The export is a list of tasks ``{"id", "data": {"image": ...}, "annotations": [...], "predictions": [...]}``
(one task object, as cloud target storage writes it, is read too). Each annotation is by one user
(``completed_by``: a user id, or ``{"id", "email", ...}``; annotations without it are one annotator,
``unknown``) and holds a list of results:

- ``rectanglelabels`` (or ``rectangle``): ``x``, ``y``, ``width``, ``height`` in percent of the image and
  ``rotation`` in degrees, clockwise around the top-left corner ``(x, y)``. A rotated rectangle becomes the
  axis-aligned box around its four corners, computed in pixels from the result's ``original_width`` and
  ``original_height`` (percent units are not square; without those sizes it is left out and counted);
- ``polygonlabels`` (or ``polygon``): ``points`` ``[[x%, y%], ...]``, read as the box around them;
- ``choices``: the image's class. An export without any rectangle or polygon is read as classification,
  from the first ``choices`` control (``from_name``) in it; a result with no or several choices is left
  out and counted. In an export with boxes, ``choices`` are left out and counted.

A box is clipped to the image; one with no area left, or with coordinates that are missing or not finite,
is left out (``bbox`` ``None``, counted by the caller). A region's class is the first of its labels, else
the ``labels`` result of the same region id, else the control's ``from_name``. Cancelled annotations
(``was_cancelled``) are left out and counted (an annotator whose every annotation was cancelled is no
annotator, only counted and named); ``predictions`` (a model's pre-annotations) are not
annotations and are never read; other result types (keypoints, brushes, text, relations...) are left out
and counted. When one annotator has several annotations of a task, the last in the export counts.

Example:
    >>> tasks = [{"data": {"image": "/data/upload/3/1a2b3c4d-img1.png"}, "annotations": [{"completed_by": 7,
    ...     "result": [{"type": "rectanglelabels", "value": {"x": 10, "y": 20, "width": 30, "height": 40,
    ...     "rectanglelabels": ["cat"]}}]}]}]
    >>> export = read_tasks(tasks)
    >>> a = export.annotators[0]
    >>> export.kind, a.annotator, a.images[0]["file_names"], a.annotations[0]["bbox"]
    ('detections', '7', ('img1.png', '1a2b3c4d-img1.png'), [10.0, 20.0, 30.0, 40.0])
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

#: Label Studio prefixes an uploaded file's name with 8 hex digits and a hyphen.
UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-(?=.)")
BOXES = frozenset({"rectanglelabels", "rectangle"})
POLYGONS = frozenset({"polygonlabels", "polygon"})
#: Width and height of an image in percent units: the caller divides by them to get relative boxes.
PERCENT = 100.0


@dataclass(frozen=True)
class AnnotatorPart:
    """One annotator's part of an export in COCO's shape (a COCO or CVAT export is one part, annotator
    ``""``): ``images`` by id (``{"file_name", "width", "height"}``; Label Studio: by task index, the task's
    image reference, ``"file_names"``: its candidate names, and 100 x 100 percent units), class names, and
    ``annotations`` (``{"image_id", "category_id", "bbox"}``; for classification ``bbox`` is absent and
    ``category_id`` is the class, ``None`` when unusable)."""

    annotator: str
    images: dict[int, dict]
    names: dict[Any, str]
    annotations: list[dict]
    n_cancelled: int = 0
    #: Results of other types (or, in a box export, ``choices``; in a classification, other controls).
    n_ignored: int = 0
    #: Earlier annotations of a task this annotator annotated again.
    n_superseded: int = 0


@dataclass(frozen=True)
class AnnotatorExport:
    """An export split by annotator. From :func:`read_tasks`: the task kind, the annotators (by id) with a
    kept annotation, the image references of tasks no one annotated, and the annotators whose every
    annotation was cancelled (no field) with how many they cancelled; a COCO or CVAT export is one part
    (``n_tasks`` 1)."""

    kind: Literal["detections", "classification"]
    annotators: tuple[AnnotatorPart, ...]
    n_tasks: int
    unannotated: tuple[str, ...] = ()
    n_cancelled_elsewhere: int = 0
    cancelled_annotators: tuple[str, ...] = ()


def is_labelstudio(data: Any) -> bool:
    """Whether parsed JSON looks like a Label Studio export: a list (of tasks), or one task object.

    Example:
        >>> is_labelstudio([]), is_labelstudio({"images": []}), is_labelstudio({"data": {}, "annotations": []})
        (True, False, True)
    """
    return isinstance(data, list) or (isinstance(data, dict) and "data" in data and "images" not in data
                                      and ("annotations" in data or "completions" in data))


def read_labelstudio(path: str) -> AnnotatorExport:
    """:func:`read_tasks` of the JSON file at ``path``.

    Raises:
        ValueError: not JSON, or no tasks. TypeError: not Label Studio's task list (the message says which
            task is wrong).
    """
    return read_tasks(json.loads(Path(path).read_text(encoding="utf-8")))


def image_names(ref: Any) -> tuple[str, ...]:
    """Candidate file names of a task's image reference, most specific first, for relative-path or
    unique-tail matching; none for a path that climbs (``..``) or is absolute.

    Example:
        >>> image_names("/data/upload/3/1a2b3c4d-img_001.jpg")
        ('img_001.jpg', '1a2b3c4d-img_001.jpg')
        >>> image_names("/data/local-files/?d=photos%2Fsub/img_001.jpg")
        ('photos/sub/img_001.jpg', 'sub/img_001.jpg', 'img_001.jpg')
        >>> image_names("https://cdn.example.com/a/img_001.jpg?sig=x"), image_names("s3://bucket/img_001.jpg")
        (('a/img_001.jpg', 'img_001.jpg'), ('bucket/img_001.jpg', 'img_001.jpg'))
        >>> image_names("/data/local-files/?d=../elsewhere/img.jpg"), image_names("/abs/img.jpg")
        ((), ())
    """
    if not isinstance(ref, str) or not ref.strip():
        return ()
    url = urlsplit(ref.strip())
    path = unquote(url.path)
    if len(url.scheme) == 1 or PureWindowsPath(path).drive:  # C:\\... is a drive, not a scheme
        return ()
    if url.scheme and url.scheme not in ("http", "https"):  # s3://, gs://, azure-blob://
        path = f"{url.netloc}/{path}"
    elif url.scheme or path.startswith(("/data/upload/", "/data/local-files")):  # Label Studio's server
        if path.rstrip("/").endswith("/data/local-files"):
            path = (parse_qs(url.query).get("d") or [""])[0]
            if path.startswith(("/", "\\")) or PureWindowsPath(path).drive:
                return ()
        elif "/data/upload/" in path:
            name = path.rsplit("/", 1)[-1]
            stripped = UPLOAD_PREFIX.sub("", name)
            return (stripped, name) if stripped != name else (name,)
        path = path.lstrip("/")
    elif url.query or path.startswith(("/", "\\")):
        return ()
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return ()
    return tuple("/".join(parts[k:]) for k in range(len(parts)))


def _image_ref(data: dict) -> Any:
    """The task's image: ``data["image"]``, else the first value that looks like a file reference."""
    if "image" in data:
        return data["image"]
    refs = [v for v in data.values() if isinstance(v, str)]
    return next((v for v in refs if "/" in v or "." in v), refs[0] if refs else None)


def _annotator_id(who: Any) -> str:
    """``completed_by`` as a field-name suffix: the user id (``{"id": 3, "email": ...}`` -> ``3``)."""
    who = who.get("id") if isinstance(who, dict) else who
    return re.sub(r"\W", "_", str(who)) if who not in (None, "") else "unknown"


def _finite(*values: Any) -> list[float] | None:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


def _box(result: dict) -> list[float] | None:
    """The result's axis-aligned box ``[x, y, w, h]`` in percent, clipped to the image; ``None``: unusable."""
    value = result.get("value") if isinstance(result.get("value"), dict) else {}
    if result.get("type") in POLYGONS:
        points = value.get("points")
        coords = [_finite(*p) if isinstance(p, (list, tuple)) and len(p) == 2 else None
                  for p in (points if isinstance(points, list) else [])]
        if not coords or any(c is None for c in coords):
            return None
        xs, ys = [c[0] for c in coords], [c[1] for c in coords]  # type: ignore[index]
    else:
        rect = _finite(*(value.get(k) for k in ("x", "y", "width", "height")), value.get("rotation") or 0)
        if rect is None or rect[2] <= 0 or rect[3] <= 0:
            return None
        x, y, w, h, rotation = rect
        if rotation % 360 == 0:
            xs, ys = [x, x + w], [y, y + h]
        else:  # the corners in pixels, rotated clockwise around (x, y), then back to percent
            size = _finite(result.get("original_width"), result.get("original_height"))
            if size is None or not (size[0] > 0 and size[1] > 0):
                return None
            sx, sy = size[0] / PERCENT, size[1] / PERCENT
            c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
            corners = [(0.0, 0.0), (w * sx, 0.0), (w * sx, h * sy), (0.0, h * sy)]
            xs = [x + (u * c - v * s) / sx for u, v in corners]
            ys = [y + (u * s + v * c) / sy for u, v in corners]
    x0, y0, x1, y1 = max(min(xs), 0.0), max(min(ys), 0.0), min(max(xs), PERCENT), min(max(ys), PERCENT)
    return [x0, y0, x1 - x0, y1 - y0] if x1 > x0 and y1 > y0 else None


def _label(result: dict, region_labels: dict[Any, str]) -> str:
    value = result.get("value") if isinstance(result.get("value"), dict) else {}
    labels = value.get(str(result.get("type"))) or value.get("labels")
    if isinstance(labels, list) and labels:
        return str(labels[0])
    return region_labels.get(result.get("id")) or str(result.get("from_name") or result.get("type"))


def _kept_annotations(tasks: list) -> tuple[dict[tuple[str, int], list], Counter, Counter]:
    """``{(annotator, task index): results}`` of the annotations kept, and per annotator the cancelled
    and superseded annotations."""
    kept: dict[tuple[str, int], list] = {}
    cancelled, superseded = Counter(), Counter()
    for k, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise TypeError(f"task {k} is not a Label Studio task with a data object")
        annotations = task.get("annotations", task.get("completions", []))  # completions: before 1.0
        if not isinstance(annotations, list):
            raise TypeError(f"task {k}: annotations is not a list")
        for ann in annotations:
            if not isinstance(ann, dict) or not isinstance(ann.get("result") or [], list):
                raise TypeError(f"task {k}: an annotation without a result list")
            who = _annotator_id(ann.get("completed_by"))
            if ann.get("was_cancelled"):
                cancelled[who] += 1
                continue
            superseded[who] += (who, k) in kept
            kept[(who, k)] = [r for r in ann.get("result") or [] if isinstance(r, dict)]
    return kept, cancelled, superseded


def read_tasks(tasks: Any) -> AnnotatorExport:
    """Label Studio's export (parsed JSON) per annotator, in COCO's shape (see the module's docstring).

    Raises:
        TypeError: not a list of tasks (or one task), or a task without ``data`` or with malformed
            annotations; the message names the task's index.
        ValueError: an empty list.
    """
    if isinstance(tasks, dict) and is_labelstudio(tasks):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise TypeError("not a list of Label Studio tasks")
    if not tasks:
        raise ValueError("the export holds no tasks")
    kept, cancelled, superseded = _kept_annotations(tasks)
    types = Counter(r.get("type") for results in kept.values() for r in results)
    kind: Literal["detections", "classification"] = (
        "classification" if types["choices"] and not any(types[t] for t in BOXES | POLYGONS) else "detections")
    control = next((r.get("from_name") for results in kept.values() for r in results if r.get("type") == "choices"),
                   None)
    refs = [_image_ref(t["data"]) for t in tasks]
    parts: dict[str, dict] = {}
    for (who, k), results in sorted(kept.items(), key=lambda item: item[0][1]):
        part = parts.setdefault(who, {"images": {}, "annotations": [], "ignored": 0})
        part["images"][k] = {"file_name": str(refs[k]), "file_names": image_names(refs[k]),
                             "width": PERCENT, "height": PERCENT}
        region_labels = {r.get("id"): str(r["value"]["labels"][0]) for r in results if r.get("type") == "labels"
                         and isinstance(r.get("value"), dict) and isinstance(r["value"].get("labels"), list)
                         and r["value"]["labels"]}
        for r in results:
            kind_of = r.get("type")
            if kind == "detections" and kind_of in BOXES | POLYGONS:
                part["annotations"].append({"image_id": k, "category_id": _label(r, region_labels), "bbox": _box(r)})
            elif kind == "classification" and kind_of == "choices" and r.get("from_name") == control:
                choices = r["value"].get("choices") if isinstance(r.get("value"), dict) else None
                distinct = sorted({str(c) for c in choices}) if isinstance(choices, list) else []
                part["annotations"].append({"image_id": k, "category_id": distinct[0] if len(distinct) == 1
                                            else None})
            elif kind_of != "labels":
                part["ignored"] += 1
    annotators = tuple(
        AnnotatorPart(who, p["images"], {a["category_id"]: str(a["category_id"]) for a in p["annotations"]
                                                if a["category_id"] is not None}, p["annotations"],
                             cancelled[who], p["ignored"], superseded[who])
        for who, p in sorted(parts.items(), key=lambda item: _order(item[0])))
    annotated = {k for _, k in kept}
    only_cancelled = sorted((who for who in cancelled if who not in parts), key=_order)
    return AnnotatorExport(kind, annotators, len(tasks),
                           tuple(str(refs[k]) for k in range(len(tasks)) if k not in annotated),
                           sum(cancelled[who] for who in only_cancelled), tuple(only_cancelled))


def _order(annotator: str) -> tuple[int, int, str]:
    """Annotator ids in numeric order, others after them."""
    return (0, int(annotator), "") if annotator.isdigit() else (1, 0, annotator)

"""Add an annotator's export (COCO JSON, or CVAT for images XML: boxes, and polygons as the box around
them) to a dataset as a label field, matched by file name, so the agreement check can compare it with
the other annotators (CLI ``--annotator-file NAME=path.json|path.xml``).

The export must lie inside the dataset's folder (:mod:`workbench.io.boundary`) unless
``allow_outside_root``; its ``file_name`` entries are matched to the samples by their path relative to
that folder, else by a unique trailing path (``img1.png`` matches ``.../data/img1.png``). Entries that
match no sample, or that climb out of the folder (``../x.png``, absolute paths), are left out and
counted. Only the FiftyOne database is written; the export and the images are only read.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnnotatorFile:
    """What :func:`add_annotator_file` added: the field, the samples it labelled, the objects, and the
    export's images that matched no sample (up to 20 named)."""

    field: str
    path: str
    n_matched: int
    n_objects: int
    n_unknown: int
    unknown: tuple[str, ...] = ()
    #: Boxes left out: no usable coordinates, or their image has no size.
    n_dropped: int = 0


def _sample_keys(dataset: Any, roots: tuple[str, ...]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """``{path relative to a root: sample id}`` and ``{trailing path: [sample ids]}`` of every sample."""
    by_rel: dict[str, str] = {}
    by_tail: dict[str, list[str]] = {}
    for sid, fp in zip(*dataset.values(["id", "filepath"])):
        real = os.path.realpath(fp)
        for root in roots:
            if real.startswith(root.rstrip(os.sep) + os.sep):
                by_rel[Path(os.path.relpath(real, root)).as_posix()] = sid
        parts = Path(fp).parts
        for k in range(1, len(parts)):
            by_tail.setdefault("/".join(parts[-k:]), []).append(sid)
    return by_rel, by_tail


def _read_coco(path: str) -> tuple[dict[Any, dict], dict[Any, str], list[dict]]:
    """COCO's images by id, category names by id, and annotations."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    images = {im["id"]: im for im in data["images"]}
    return images, {c["id"]: str(c["name"]) for c in data.get("categories", [])}, list(data.get("annotations", []))


def _read_cvat(path: str) -> tuple[dict[Any, dict], dict[Any, str], list[dict]]:
    """CVAT for images read into COCO's shape: each ``<box>`` (and each ``<polygon>``, as the box around
    its points) becomes an annotation with a pixel ``bbox``; the label is its own category."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    if root.tag != "annotations":
        raise ValueError(f"the root element is <{root.tag}>, not <annotations>")
    images, annotations = {}, []
    for k, im in enumerate(root.iter("image")):
        images[k] = {"file_name": im.get("name", ""), "width": im.get("width"), "height": im.get("height")}
        for shape in (*im.iter("box"), *im.iter("polygon")):
            try:
                if shape.tag == "box":
                    x0, y0, x1, y1 = (float(shape.get(a, "")) for a in ("xtl", "ytl", "xbr", "ybr"))
                else:
                    xs, ys = zip(*((float(v) for v in p.split(",")) for p in shape.get("points", "").split(";") if p))
                    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
                bbox = [x0, y0, x1 - x0, y1 - y0]
            except ValueError:  # left out and counted by the caller
                bbox = None
            annotations.append({"image_id": k, "category_id": shape.get("label"), "bbox": bbox})
    return images, {a["category_id"]: str(a["category_id"]) for a in annotations}, annotations


def add_annotator_file(dataset: Any, name: str, path: str | os.PathLike, *, allow_outside_root: bool = False,
                       ) -> AnnotatorFile:
    """Read the COCO (``.json``) or CVAT (``.xml``) export at ``path`` into the sample field ``name``
    (``fo.Detections``) of ``dataset``.

    Raises:
        AnnotatorFieldError: a bad name, a field of that name the user already has, an export outside
            the dataset folder, unreadable or not COCO, or one that matches no sample.

    Example:
        >>> add_annotator_file(dataset, "ann_b", "data/ds/annotator_b.json").n_matched  # doctest: +SKIP
        120
    """
    from workbench._fo import PREFIX, fiftyone
    from workbench.errors import AnnotatorFieldError
    from workbench.io.boundary import dataset_roots, is_within

    fo = fiftyone()
    if not name.isidentifier() or name.startswith(PREFIX):
        raise AnnotatorFieldError(f"--annotator-file: {name!r} can't name a field; use letters, digits and _ "
                                  f"(not starting with {PREFIX})")
    info = dict(dataset.info.get("workbench", {}))
    ours = dict(info.get("annotator_files", {}))
    if name in dataset.get_field_schema() and name not in ours:
        raise AnnotatorFieldError(f"--annotator-file: the dataset already has a field {name!r} that workbench did "
                                  "not add; choose another name")
    roots = dataset_roots(info)
    real = os.path.realpath(path)
    if roots and not allow_outside_root and not is_within(real, roots):
        raise AnnotatorFieldError(f"--annotator-file {name}={path}: the file is outside the dataset folder "
                                  f"({', '.join(roots)}) and is not read; move it inside or pass --allow-outside-root")
    kind = "CVAT XML" if real.lower().endswith(".xml") else "COCO JSON"
    try:
        images, names, annotations = _read_cvat(real) if kind == "CVAT XML" else _read_coco(real)
    except (OSError, ValueError, KeyError, TypeError, SyntaxError) as exc:  # ET.ParseError is a SyntaxError
        raise AnnotatorFieldError(f"--annotator-file {name}={path}: not a readable {kind} file "
                                  f"({type(exc).__name__}: {exc})") from None
    by_rel, by_tail = _sample_keys(dataset, roots)
    sample_of: dict[Any, str] = {}
    unknown = []
    for image_id, im in images.items():
        file_name = Path(str(im.get("file_name", ""))).as_posix()
        sid = by_rel.get(file_name)
        if sid is None and not file_name.startswith("/") and ".." not in Path(file_name).parts:
            tail = by_tail.get(file_name, [])
            sid = tail[0] if len(tail) == 1 else None
        if sid is None:
            unknown.append(file_name)
        else:
            sample_of[image_id] = sid
    if not sample_of:
        raise AnnotatorFieldError(f"--annotator-file {name}={path}: none of its {len(images)} images is a sample of "
                                  f"dataset {dataset.name!r} (e.g. {', '.join(unknown[:3]) or 'no images'}); "
                                  "file_name must be the image's path inside the dataset folder")
    objects: dict[str, list[Any]] = {sid: [] for sid in sample_of.values()}
    dropped = 0
    for ann in annotations:
        im = images.get(ann.get("image_id"))
        sid = sample_of.get(ann.get("image_id"))
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
            width, height = float(im["width"]), float(im["height"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            dropped += 1
            continue
        if sid is None or not width > 0 or not height > 0 or any(v != v for v in (x, y, w, h)):
            dropped += sid is not None
            continue
        label = names.get(ann.get("category_id"), str(ann.get("category_id")))
        objects[sid].append(fo.Detection(label=label, bounding_box=[x / width, y / height, w / width, h / height]))
    values: dict[str, Any] = dict.fromkeys(dataset.values("id"))  # samples the export does not cover: no label
    values.update({sid: fo.Detections(detections=d) for sid, d in objects.items()})
    dataset.set_values(name, values, key_field="id")
    ours[name] = real
    info["annotator_files"] = ours
    dataset.info["workbench"] = info
    dataset.save()
    if dropped:
        log.warning("--annotator-file %s: %d boxes without a usable box or image size were left out", name, dropped)
    if unknown:
        log.warning("--annotator-file %s: %d of its images match no sample and were left out (e.g. %s)", name,
                    len(unknown), ", ".join(unknown[:3]))
    return AnnotatorFile(name, real, len(sample_of), sum(map(len, objects.values())), len(unknown),
                         tuple(unknown[:20]), dropped)

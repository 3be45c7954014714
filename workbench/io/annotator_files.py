"""Add an annotator's export (COCO JSON; CVAT for images XML: boxes, and polygons as the box around them;
Label Studio's JSON export: :mod:`workbench.io.labelstudio`) to a dataset as label fields, matched by file
name, so the agreement check can compare them with the other annotators (CLI ``--annotator-file
NAME=PATH``). The format is read from the content (``<``: CVAT XML; a JSON list of tasks, or one task
object with ``data`` and ``annotations``: Label Studio; another JSON object: COCO), not the extension.

A COCO or CVAT export is one annotator: the field ``NAME`` (``fo.Detections``). A Label Studio export
holds each annotator's annotations (``completed_by``): one annotator gives the field ``NAME``, several
give one field each, ``NAME_<completed_by id>`` (``ann_3``, ``ann_12``). An export with no rectangle or
polygon but ``choices`` is a classification: ``fo.Classification`` fields.

The export must lie inside the dataset's folder (:mod:`workbench.io.boundary`) unless
``allow_outside_root``; its ``file_name`` entries are matched to the samples by their path relative to
that folder, else by a unique trailing path (``img1.png`` matches ``.../data/img1.png``). Label Studio's
image references give candidate names (:func:`workbench.io.labelstudio.image_names`: upload prefix
stripped, ``?d=`` local-files paths unquoted, an URL's path) tried longest first. Entries that match no
sample, or that climb out of the folder (``../x.png``, absolute paths), are left out and counted. Only the
FiftyOne database is written; the export and the images are only read.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.io.labelstudio import (
    AnnotatorExport,
    AnnotatorPart,
    is_labelstudio,
    read_tasks,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnnotatorFile:
    """What :func:`add_annotator_file` added: the field, the samples it labelled, the objects (or class
    labels), and the export's images that matched no sample (up to 20 named). A Label Studio export of
    several annotators adds one field each: the first here, the others in :attr:`others`."""

    field: str
    path: str
    n_matched: int
    n_objects: int
    n_unknown: int
    unknown: tuple[str, ...] = ()
    #: Boxes left out: no usable coordinates, or their image has no size (classification: no single class).
    n_dropped: int = 0
    #: ``COCO JSON``, ``CVAT XML`` or ``Label Studio JSON``.
    format: str = "COCO JSON"
    #: Label Studio: the ``completed_by`` user id whose annotations the field holds.
    annotator: str = ""
    #: Label Studio: this annotator's cancelled annotations, results of other types (or controls), and
    #: earlier annotations of a task it annotated again: all left out.
    n_cancelled: int = 0
    n_ignored: int = 0
    n_superseded: int = 0
    others: tuple[AnnotatorFile, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field the export added, this one first."""
        return (self.field, *(o.field for o in self.others))


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


def _coco(data: dict) -> AnnotatorPart:
    """COCO's images by id, category names by id, and annotations."""
    images = {im["id"]: {k: im[k] for k in ("file_name", "width", "height") if k in im} for im in data["images"]}
    return AnnotatorPart("", images, {c["id"]: str(c["name"]) for c in data.get("categories", [])},
                         list(data.get("annotations", [])))


def _read_cvat(path: str) -> AnnotatorPart:
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
    return AnnotatorPart("", images, {a["category_id"]: str(a["category_id"]) for a in annotations}, annotations)



def _format(path: str) -> str:
    """The export's format from its first bytes (the extension only when they say nothing)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        head = b""
    if head.startswith(b"<") or (head[:1] not in (b"[", b"{") and path.lower().endswith(".xml")):
        return "CVAT XML"
    return "Label Studio JSON" if head.startswith(b"[") else "COCO JSON"


def _read(path: str, fmt: str) -> tuple[str, AnnotatorExport]:
    """The format (a JSON object can be one Label Studio task) and the export as annotator parts."""
    if fmt == "CVAT XML":
        return fmt, AnnotatorExport("detections", (_read_cvat(path),), 1)
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if is_labelstudio(data):
        return "Label Studio JSON", read_tasks(data)
    if not isinstance(data, dict):
        raise TypeError(f"the JSON holds a {type(data).__name__}, not COCO's object")
    return fmt, AnnotatorExport("detections", (_coco(data),), 1)


def _match(image: dict, by_rel: dict[str, str], by_tail: dict[str, list[str]]) -> str | None:
    """The sample of an export image: its first candidate name that is a sample's relative path or a
    unique trailing path (an ambiguous one stops the search); names that climb or are absolute match none."""
    names = image.get("file_names", (Path(str(image.get("file_name", ""))).as_posix(),))
    for name in names:
        if name.startswith("/") or ".." in name.split("/"):
            continue
        tail = by_tail.get(name, [])
        if name in by_rel or tail:
            return by_rel.get(name) or (tail[0] if len(tail) == 1 else None)
    return None


def _labels(part: AnnotatorPart, sample_of: dict[Any, str], classification: bool) -> tuple[dict[str, Any], int]:
    """Each matched sample's label (``fo.Detections``, or ``fo.Classification``/``None``) and how many
    annotations were left out."""
    from workbench._fo import fiftyone

    fo = fiftyone()
    if classification:
        out: dict[str, Any] = dict.fromkeys(sample_of.values())
        dropped = 0
        for ann in part.annotations:
            sid, label = sample_of.get(ann.get("image_id")), ann.get("category_id")
            dropped += sid is not None and label is None
            if sid is not None and label is not None:
                out[sid] = fo.Classification(label=str(label))
        return out, dropped
    objects: dict[str, list[Any]] = {sid: [] for sid in sample_of.values()}
    dropped = 0
    for ann in part.annotations:
        im = part.images.get(ann.get("image_id"))
        sid = sample_of.get(ann.get("image_id"))
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
            width, height = float(im["width"]), float(im["height"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            dropped += 1
            continue
        if sid is None or not width > 0 or not height > 0 or any(math.isnan(v) for v in (x, y, w, h)):
            dropped += sid is not None
            continue
        label = part.names.get(ann.get("category_id"), str(ann.get("category_id")))
        objects[sid].append(fo.Detection(label=label, bounding_box=[x / width, y / height, w / width, h / height]))
    return {sid: fo.Detections(detections=d) for sid, d in objects.items()}, dropped


def add_annotator_file(dataset: Any, name: str, path: str | os.PathLike, *, allow_outside_root: bool = False,
                       ) -> AnnotatorFile:
    """Read the COCO, CVAT or Label Studio export at ``path`` into the sample field ``name`` of ``dataset``
    (a Label Studio export of several annotators: ``name_<completed_by id>`` each; see the module).

    Raises:
        AnnotatorFieldError: a bad name, a field of that name the user already has, an export outside
            the dataset folder, unreadable, without annotations, or one that matches no sample.

    Example:
        >>> add_annotator_file(dataset, "ann_b", "data/ds/annotator_b.json").n_matched  # doctest: +SKIP
        120
        >>> add_annotator_file(dataset, "ls", "data/ds/label_studio.json").fields  # doctest: +SKIP
        ('ls_3', 'ls_12')
    """
    from workbench._fo import PREFIX, fiftyone
    from workbench.errors import AnnotatorFieldError
    from workbench.io.boundary import dataset_roots, is_within

    fo = fiftyone()
    where = f"--annotator-file {name}={path}"
    if not name.isidentifier() or name.startswith(PREFIX):
        raise AnnotatorFieldError(f"--annotator-file: {name!r} can't name a field; use letters, digits and _ "
                                  f"(not starting with {PREFIX})")
    info = dict(dataset.info.get("workbench", {}))
    ours = dict(info.get("annotator_files", {}))
    roots = dataset_roots(info)
    real = os.path.realpath(path)
    if roots and not allow_outside_root and not is_within(real, roots):
        raise AnnotatorFieldError(f"{where}: the file is outside the dataset folder ({', '.join(roots)}) and is not "
                                  "read; move it inside or pass --allow-outside-root")
    fmt = _format(real)
    try:
        fmt, export = _read(real, fmt)
    except (OSError, ValueError, KeyError, TypeError, SyntaxError) as exc:  # ET.ParseError is a SyntaxError
        raise AnnotatorFieldError(f"{where}: not a readable {fmt} file ({type(exc).__name__}: {exc})") from None
    if not export.annotators:
        raise AnnotatorFieldError(f"{where}: none of its {export.n_tasks} tasks has an annotation "
                                  f"({export.n_cancelled_elsewhere} cancelled; predictions are not annotations)")
    parts = export.annotators
    fields = [name] if len(parts) == 1 else [f"{name}_{p.annotator}" for p in parts]
    schema = dataset.get_field_schema()
    clash = [f for f in fields if f in schema and f not in ours]
    if clash:
        raise AnnotatorFieldError(f"--annotator-file: the dataset already has a field {clash[0]!r} that workbench "
                                  "did not add; choose another name")
    by_rel, by_tail = _sample_keys(dataset, roots)
    matches = [{k: _match(im, by_rel, by_tail) for k, im in p.images.items()} for p in parts]
    if not any(sid for m in matches for sid in m.values()):
        images = {k: im for p in parts for k, im in p.images.items()}
        unknown = [str(im.get("file_name", "")) for im in images.values()]
        raise AnnotatorFieldError(f"{where}: none of its {len(images)} images is a sample of dataset "
                                  f"{dataset.name!r} (e.g. {', '.join(unknown[:3]) or 'no images'}); file_name "
                                  "must be the image's path inside the dataset folder")
    classification = export.kind == "classification"
    doc_type = fo.Classification if classification else fo.Detections
    added = []
    for field, part, match in zip(fields, parts, matches):
        sample_of = {k: sid for k, sid in match.items() if sid is not None}
        unknown = [str(part.images[k].get("file_name", "")) for k, sid in match.items() if sid is None]
        labels, dropped = _labels(part, sample_of, classification)
        if field in schema:  # ours (checked above): replaced, whatever it held
            dataset.delete_sample_field(field)
        dataset.add_sample_field(field, fo.EmbeddedDocumentField, embedded_doc_type=doc_type)
        values: dict[str, Any] = dict.fromkeys(dataset.values("id"))  # samples the annotator did not label: None
        values.update(labels)
        dataset.set_values(field, values, key_field="id")
        ours[field] = real
        n_objects = sum(v is not None for v in labels.values()) if classification else \
            sum(len(v.detections) for v in labels.values())
        added.append(AnnotatorFile(field, real, len(sample_of), n_objects, len(unknown), tuple(unknown[:20]),
                                   dropped, fmt, part.annotator, part.n_cancelled, part.n_ignored, part.n_superseded))
        _warn(added[-1], unknown, classification)
    info["annotator_files"] = ours
    dataset.info["workbench"] = info
    dataset.save()
    if export.unannotated:
        log.info("--annotator-file %s: %d tasks have no annotation and are left unlabelled (e.g. %s)", name,
                 len(export.unannotated), ", ".join(export.unannotated[:3]))
    return dataclasses.replace(added[0], others=tuple(added[1:]))


def _warn(added: AnnotatorFile, unknown: list[str], classification: bool) -> None:
    """What the field left out, on stderr."""
    what = "class choices without exactly one class" if classification else "boxes without a usable box or image size"
    for n, message in ((added.n_dropped, f"%d {what} were left out"),
                       (added.n_cancelled, "%d cancelled annotations were left out"),
                       (added.n_ignored, "%d results of other types (or other controls) were left out"),
                       (added.n_superseded, "%d earlier annotations of a task annotated again were left out")):
        if n:
            log.warning("--annotator-file %s: " + message, added.field, n)
    if unknown:
        log.warning("--annotator-file %s: %d of its images match no sample and were left out (e.g. %s)", added.field,
                    len(unknown), ", ".join(unknown[:3]))

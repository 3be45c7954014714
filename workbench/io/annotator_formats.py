"""An annotator's export read into COCO's shape (:class:`~workbench.io.labelstudio.AnnotatorExport`), for
:mod:`workbench.io.annotator_files`: COCO JSON, CVAT for images XML (boxes, and polygons as the box around
them) or Label Studio's JSON export (:mod:`workbench.io.labelstudio`), told apart by content (``<``: CVAT;
a JSON list of tasks, or one task object with ``data`` and ``annotations``: Label Studio; another JSON
object: COCO), not the extension. Only reads the file.

Example:
    >>> fmt, export = read_export("data/ds/annotator_b.json")  # doctest: +SKIP
    >>> fmt, export.kind, len(export.annotators)  # doctest: +SKIP
    ('COCO JSON', 'detections', 1)
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.io.labelstudio import (
    AnnotatorExport,
    AnnotatorPart,
    is_labelstudio,
    read_tasks,
)

#: Where each format names an image, for messages about names that match no sample.
NAME_HINTS = {
    "COCO JSON": "file_name must be the image's path inside the dataset folder",
    "CVAT XML": "each <image name=...> must be the image's path inside the dataset folder",
    "Label Studio JSON": "each task's data.image must end with the image's path inside the dataset folder (an "
                         "upload keeps only its file name, so that name must single out one image)",
}


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


def export_format(path: str) -> str:
    """The export's format from its first bytes (the extension only when they say nothing): ``COCO JSON``,
    ``CVAT XML`` or ``Label Studio JSON`` (a JSON object that is one Label Studio task is told by
    :func:`read_export`).

    Example:
        >>> export_format("data/ds/annotations.xml")  # doctest: +SKIP
        'CVAT XML'
    """
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        head = b""
    if head.startswith(b"<") or (head[:1] not in (b"[", b"{") and path.lower().endswith(".xml")):
        return "CVAT XML"
    return "Label Studio JSON" if head.startswith(b"[") else "COCO JSON"


def read_export(path: str, fmt: str | None = None) -> tuple[str, AnnotatorExport]:
    """The format (``fmt``, else :func:`export_format`; a JSON object can be one Label Studio task) and the
    export as annotator parts.

    Raises:
        OSError, ValueError, KeyError, TypeError, SyntaxError (``ET.ParseError``): unreadable or malformed.
    """
    fmt = fmt or export_format(path)
    if fmt == "CVAT XML":
        return fmt, AnnotatorExport("detections", (_read_cvat(path),), 1)
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if is_labelstudio(data):
        return "Label Studio JSON", read_tasks(data)
    if not isinstance(data, dict):
        raise TypeError(f"the JSON holds a {type(data).__name__}, not COCO's object")
    return fmt, AnnotatorExport("detections", (_coco(data),), 1)

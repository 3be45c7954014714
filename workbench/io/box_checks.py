"""Bounds checks for boxes FiftyOne's own importers produced (Pascal VOC, CVAT, FiftyOne exports).

COCO and YOLO are checked while they are parsed (:mod:`workbench.io.coco_checks`,
:mod:`workbench.io.yolo_labels`); the layouts FiftyOne parses itself arrive as relative
``[x, y, w, h]`` boxes, where a box past an image edge shows up as a coordinate below 0 or a
far edge above 1. The same rule as for COCO applies (:func:`~workbench.io.coco_checks.clip_bbox`):
a box that overlaps the image is clipped to it, and one with no area or entirely outside it is
dropped, each reported as an ``annotation`` file problem naming the image, the object and the
numbers. Only the FiftyOne copy of the labels changes; the user's files are never written.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from workbench.io.coco_checks import ROUNDING_TOLERANCE_PX, clip_bbox

log = logging.getLogger(__name__)

#: Overshoot in relative units treated as rounding when the image size is unknown.
RELATIVE_TOLERANCE = 1e-3


def judge_relative_box(box: Sequence[float], width: float | None, height: float | None
                       ) -> tuple[list[float] | None, str | None]:
    """Judge a relative ``[x, y, w, h]`` box: ``(box or None, reason or None)``, as :func:`clip_bbox` does.

    With the image's size the box is judged in pixels (0.5 px of overshoot is rounding);
    without it, in relative units (0.001 is rounding).

    Example:
        >>> judge_relative_box([0.5, 0.1, 0.75, 0.2], 40, 40)
        ([0.5, 0.1, 0.5, 0.2], 'extends past the right edge of the 40x40 image (x + width = 50); clipped to the image')
        >>> judge_relative_box([0.2, 0.2, 0.0, 0.1], None, None)[1]
        'has a non-positive width or height (no area); dropped'
    """
    sized = bool(width and height and width > 0 and height > 0)
    w, h = (float(width), float(height)) if sized else (1.0, 1.0)
    px = [box[0] * w, box[1] * h, box[2] * w, box[3] * h]
    tol = ROUNDING_TOLERANCE_PX if sized else RELATIVE_TOLERANCE
    clipped, reason = clip_bbox(px, w, h, tolerance=tol)
    if reason is not None and not sized:
        reason = reason.replace("the 1x1 image", "the image (relative coordinates; its size is unknown)")
    if clipped is None:
        return None, reason
    rel = [round(clipped[0] / w, 9), round(clipped[1] / h, 9), round(clipped[2] / w, 9), round(clipped[3] / h, 9)]
    return (list(box) if reason is None and px == clipped else rel), reason


def check_boxes(dataset: Any, label_field: str, *, source: str) -> list[dict]:
    """Clip or drop the out-of-bounds boxes of ``label_field`` (``Detections``) and report each one.

    Returns file problems ``{"source", "kind": "annotation", "message", "file_name"}``; samples
    whose boxes are all fine are not written.
    """
    schema = dataset.get_field_schema()
    if label_field not in schema:
        return []
    doc_type = getattr(schema[label_field], "document_type", None)
    if getattr(doc_type, "__name__", "") != "Detections":
        return []
    ids, paths, widths, heights, labels = dataset.values(
        ["id", "filepath", "metadata.width", "metadata.height", label_field])
    problems: list[dict] = []
    changed: dict[str, Any] = {}
    for sid, path, width, height, dets in zip(ids, paths, widths, heights, labels):
        if dets is None:
            continue
        keep, touched = [], False
        for det in dets.detections:
            box = det.bounding_box
            if box is None or len(box) != 4:
                touched = True
                problems.append(_problem(source, path, f"object {det.label!r} has no [x, y, w, h] box; dropped"))
                continue
            new, reason = judge_relative_box(box, width, height)
            if reason is not None:
                problems.append(_problem(source, path, f"box of {det.label!r} {reason}"))
            if new is None:
                touched = True
                continue
            if new != list(box):
                det.bounding_box = new
                touched = True
            keep.append(det)
        if touched:
            dets.detections = keep
            changed[sid] = dets
    if changed:  # also boxes only rounded back inside the image, which are not worth a report
        dataset.set_values(label_field, changed, key_field="id")
    if problems:
        log.warning("%s: %d box problems (boxes clipped or dropped in the audit's copy; see the audit's file "
                    "problems)", source, len(problems))
    return problems


def _problem(source: str, path: str, message: str) -> dict:
    return {"source": source, "kind": "annotation", "message": message, "file_name": path}

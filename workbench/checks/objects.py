"""Object-level facts of a detection dataset: box sizes and shapes per class, boxes that can't be
right, negatives and which classes appear together.

Flagged, per object:

- ``tiny``: the box's shorter side under ``min_box_side`` pixels (default 4): too small to learn
  from at most input sizes, and often a stray click;
- ``duplicate``: a second box of the same class on the same image overlapping an earlier one with
  IoU >= ``duplicate_iou`` (default 0.95): a double annotation, which teaches the model to predict
  two boxes;
- ``outside``: the box reaches more than 1% of the image's side past its edge;
- ``degenerate``: zero or negative width or height, or no box at all;
- ``empty_mask``: the object's instance mask has no pixel;
- ``mask_box_mismatch``: the tight box around the mask's pixels overlaps the annotated box with IoU
  under ``mask_iou`` (default 0.7), or the pixels fill under ``min_mask_fill`` (default 0.02) of the
  box: a mask shifted inside its box, or drawn for another object (:mod:`workbench.checks.mask_box`).

Reported, per class: instances, images, the size of boxes (square root of the pixel area) as COCO's
small (< 32 px), medium and large (>= 96 px) shares with the 10th, 50th and 90th percentiles, and
the aspect ratio (w / h) as tall (< 0.5), square-ish and wide (> 2) shares, and both as histograms on
log-spaced bins (:data:`SIZE_BIN_EDGES`, :data:`ASPECT_BIN_EDGES`; a few dozen counts per class, drawn
by the report and the panel). For the dataset: the
share of negative images (no object; negatives teach the model what not to detect, see
``shared/DATA_GUIDE.md``) and the class pairs that share images most.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.checks.box_match import Box, iou
from workbench.checks.mask_box import MaskShape, mask_disagreement
from workbench.checks.registry import (
    CheckInputs,
    GateSpec,
    ObjectAttr,
    ObjectTag,
    PanelSpec,
    PatchesView,
    Requirement,
    SampleField,
    SampleTag,
    SavedView,
    Writes,
    register_check,
)
from workbench.results.mask_grid import MaskGrid, mask_export
from workbench.results.protocol import Finding, KindedIssues, box_key

if TYPE_CHECKING:
    from workbench.config import AuditConfig

ISSUE_KINDS = ("degenerate", "outside", "tiny", "duplicate", "empty_mask", "mask_box_mismatch")
#: COCO's object-size bands (square root of the pixel area): small under 32, large from 96.
SIZE_BANDS = (32.0, 96.0)
#: Aspect (w / h) bands: tall under 0.5, wide over 2.
ASPECT_BANDS = (0.5, 2.0)
#: How far past the image's edge (share of its side) a box may reach before it is ``outside``.
EDGE_SLACK = 0.01
#: Histogram bin edges of the box size (square root of the pixel area): 1 px to 4,096 px in steps of
#: a factor of sqrt(2) (24 bins; values outside fall into the end bins).
SIZE_BIN_EDGES: tuple[float, ...] = tuple(round(2 ** (k / 2), 4) for k in range(25))
#: Histogram bin edges of the aspect ratio (w / h): 1/16 to 16 in steps of a factor of sqrt(2) (16 bins).
ASPECT_BIN_EDGES: tuple[float, ...] = tuple(round(2 ** (k / 2), 4) for k in range(-8, 9))


@dataclass(frozen=True)
class ObjectIssue:
    """One flagged object: its image, class, relative box, size in pixels and what is wrong."""

    sample_id: str
    filepath: str
    label: str | None
    object_id: str | None
    box: tuple[float, ...] | None
    kinds: tuple[str, ...]
    #: Square root of the box's pixel area (``None`` when the image's size is unknown).
    size_px: float | None
    #: For ``duplicate``: the IoU with the box it repeats.
    iou: float | None = None
    #: For ``empty_mask`` / ``mask_box_mismatch``: the IoU of the box around the mask's pixels with the box.
    mask_iou: float | None = None
    #: The object's instance mask on a coarse grid, for drawing (``None``: no mask, or an empty one).
    mask: MaskGrid | None = None


@dataclass(frozen=True)
class ClassBoxes:
    """How one class's boxes look: counts, size and aspect distributions."""

    label: str
    n_instances: int
    n_images: int
    #: Shares of boxes that are small / medium / large (COCO's bands, :data:`SIZE_BANDS`).
    size_shares: tuple[float, float, float]
    #: 10th, 50th and 90th percentile of the box size in pixels (``None``: image sizes unknown).
    size_percentiles: tuple[float, float, float] | None
    #: Shares of boxes that are tall / square-ish / wide (:data:`ASPECT_BANDS`).
    aspect_shares: tuple[float, float, float]
    median_aspect: float | None
    n_tiny: int
    #: Boxes per size bin (edges: ``ObjectsResult.size_bin_edges``; empty when image sizes are unknown).
    size_hist: tuple[int, ...] = ()
    #: Boxes per aspect bin (edges: ``ObjectsResult.aspect_bin_edges``).
    aspect_hist: tuple[int, ...] = ()


@dataclass(frozen=True)
class ObjectsResult(KindedIssues):
    """Flagged objects (worst kinds first), per-class box statistics, negatives and co-occurrence."""

    KINDS = ISSUE_KINDS
    issues: tuple[ObjectIssue, ...] = ()
    classes: tuple[ClassBoxes, ...] = ()
    n_images: int = 0
    n_objects: int = 0
    n_negative: int = 0
    #: ``(class a, class b, images with both)``, most frequent first (at most 20).
    cooccurrence: tuple[tuple[str, str, int], ...] = ()
    min_box_side: float = 4.0
    duplicate_iou: float = 0.95
    #: Objects with an instance mask (0: the masks were not checked), and the thresholds they were held to.
    n_masks: int = 0
    mask_iou: float = 0.7
    min_mask_fill: float = 0.02
    #: The edges of every class's ``size_hist`` and ``aspect_hist`` (log-spaced; kept so a saved result
    #: reads the same whatever a later version's bins).
    size_bin_edges: tuple[float, ...] = SIZE_BIN_EDGES
    aspect_bin_edges: tuple[float, ...] = ASPECT_BIN_EDGES

    @property
    def negative_share(self) -> float | None:
        return self.n_negative / self.n_images if self.n_images else None

    def summary(self) -> str:
        """The flagged objects by kind, then the negatives.

        Example:
            >>> ObjectsResult(n_images=4, n_objects=9, n_negative=1).summary().splitlines()[0]
            'no object flagged among 9 in 4 images'
        """
        parts = ", ".join(f"{n} {k}" for k, n in self.counts().items() if n)
        head = (f"{len(self.issues)} of {self.n_objects} objects flagged: {parts}" if self.issues else
                f"no object flagged among {self.n_objects} in {self.n_images} images")
        share = self.negative_share
        tail = ("no negative images (none without objects): add some, they teach the model what not to detect"
                if share == 0 else f"negative images (no object): {share:.1%}" if share is not None else "")
        return f"{head}\n{tail}" if tail else head

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each flagged object, by file, label, box (rounded to 1%) and the kinds of problem."""
        return tuple(Finding("+".join(sorted(i.kinds)), (i.filepath,), (i.label or "", box_key(i.box)), i.label)
                     for i in self.issues)

    def to_frame(self) -> Any:
        """One row per flagged object: ``sample_id, filepath, label, object_id, box, size_px`` and
        ``is_<kind>_issue`` for each of :data:`ISSUE_KINDS`."""
        import pandas as pd

        cols = ["sample_id", "filepath", "label", "object_id", "box", "size_px", "iou", "mask_iou",
                *(f"is_{k}_issue" for k in ISSUE_KINDS)]
        return pd.DataFrame([{"sample_id": i.sample_id, "filepath": i.filepath, "label": i.label,
                              "object_id": i.object_id, "box": list(i.box) if i.box else None, "size_px": i.size_px,
                              "iou": i.iou, "mask_iou": i.mask_iou,
                              **{f"is_{k}_issue": k in i.kinds for k in ISSUE_KINDS}}
                             for i in self.issues], columns=cols)

    def to_export(self) -> dict[str, Any]:
        return {"objects": {
            "n_images": self.n_images, "n_objects": self.n_objects, "n_negative": self.n_negative,
            "negative_share": self.negative_share, "min_box_side": self.min_box_side,
            "duplicate_iou": self.duplicate_iou, "n_masks": self.n_masks, "mask_iou": self.mask_iou,
            "min_mask_fill": self.min_mask_fill, "counts": self.counts(),
            "classes": {c.label: {"instances": c.n_instances, "images": c.n_images, "size_shares": list(c.size_shares),
                                  "size_percentiles": None if c.size_percentiles is None else list(c.size_percentiles),
                                  "aspect_shares": list(c.aspect_shares), "median_aspect": c.median_aspect,
                                  "tiny": c.n_tiny, "size_hist": list(c.size_hist),
                                  "aspect_hist": list(c.aspect_hist)} for c in self.classes},
            "size_bin_edges": list(self.size_bin_edges), "aspect_bin_edges": list(self.aspect_bin_edges),
            "cooccurrence": [{"a": a, "b": b, "images": n} for a, b, n in self.cooccurrence],
            "issues": [{"path": i.filepath, "label": i.label, "box": None if i.box is None else list(i.box),
                        "kinds": list(i.kinds), "size_px": i.size_px, "iou": i.iou, "mask_iou": i.mask_iou,
                        "mask": mask_export(i.mask)}
                       for i in self.issues]}}


def _size_band(size: float) -> int:
    """0 small, 1 medium, 2 large (COCO: under 32 px, from 96 px)."""
    return 0 if size < SIZE_BANDS[0] else 2 if size >= SIZE_BANDS[1] else 1


def _aspect_band(aspect: float) -> int:
    """0 tall, 1 square-ish, 2 wide."""
    return 0 if aspect < ASPECT_BANDS[0] else 2 if aspect > ASPECT_BANDS[1] else 1


def _object_kinds(box: Box | None, size: tuple[int | None, int | None], min_side: float) -> tuple[str, ...]:
    if box is None or box[2] <= 0 or box[3] <= 0:
        return ("degenerate",)
    x, y, w, h = box
    kinds = []
    if x < -EDGE_SLACK or y < -EDGE_SLACK or x + w > 1 + EDGE_SLACK or y + h > 1 + EDGE_SLACK:
        kinds.append("outside")
    width, height = size
    if width and height and min(w * width, h * height) < min_side:
        kinds.append("tiny")
    return tuple(kinds)


def find_object_issues(sample_ids: Sequence[str], filepaths: Sequence[str], labels: Sequence[Sequence[str | None]],
                       boxes: Sequence[Sequence[Box | None]], sizes: Sequence[tuple[int | None, int | None]], *,
                       object_ids: Sequence[Sequence[str]] | None = None, min_box_side: float = 4.0,
                       duplicate_iou: float = 0.95, mask_shapes: Sequence[Sequence[MaskShape | None]] | None = None,
                       mask_iou: float = 0.7, min_mask_fill: float = 0.02) -> ObjectsResult:
    """Per-object flags, per-class box statistics, negatives and co-occurrence of a detection dataset.

    Args:
        sample_ids, filepaths: one per image.
        labels, boxes: per image, each object's class and relative ``(x, y, w, h)`` box (aligned).
        sizes: per image, ``(width, height)`` in pixels (``None`` when unknown: no pixel sizes).
        object_ids: per image, each object's id (for the FiftyOne write-back).
        min_box_side: a box whose shorter side is under this many pixels is ``tiny``.
        duplicate_iou: a same-class box overlapping an earlier one at least this much is a ``duplicate``.
        mask_shapes: per image, each object's instance-mask summary (``None``: no mask), aligned with ``boxes``.
        mask_iou, min_mask_fill: a mask whose tight box overlaps the box under ``mask_iou``, or that fills under
            ``min_mask_fill`` of it, is a ``mask_box_mismatch``; one without pixels an ``empty_mask``.

    Example:
        >>> r = find_object_issues(["s"], ["/a.png"], [["cat", "cat"]], [[(0.1, 0.1, 0.5, 0.5), (0.1, 0.1, 0.5, 0.49)]],
        ...                        [(100, 100)])
        >>> [(i.kinds, round(i.iou, 2)) for i in r.issues]
        [(('duplicate',), 0.98)]
    """
    issues: list[ObjectIssue] = []
    per_class: dict[str, list[tuple[float | None, float]]] = defaultdict(list)
    class_images: dict[str, set[int]] = defaultdict(set)
    pairs: Counter = Counter()
    n_objects = n_negative = n_masks = 0
    for row, (labs, bxs) in enumerate(zip(labels, boxes)):
        width, height = sizes[row]
        ids = list(object_ids[row]) if object_ids else []
        shapes = list(mask_shapes[row]) if mask_shapes else []
        n_objects += len(labs)
        n_negative += not labs
        kept: list[tuple[str | None, Box]] = []
        for k, (lab, box) in enumerate(zip(labs, bxs)):
            kinds = list(_object_kinds(box, (width, height), min_box_side))
            overlap = agreement = None
            shape = shapes[k] if k < len(shapes) else None
            n_masks += shape is not None
            if shape is not None and box is not None and "degenerate" not in kinds:
                mismatch, agreement = mask_disagreement(shape, box, min_iou=mask_iou, min_fill=min_mask_fill)
                kinds += [mismatch] if mismatch else []
            if box is not None and "degenerate" not in kinds:
                overlap = max((iou(box, other) for olab, other in kept if olab == lab), default=0.0)
                if overlap >= duplicate_iou:
                    kinds.append("duplicate")
                kept.append((lab, box))
                size = math.sqrt(box[2] * width * box[3] * height) if width and height else None
                aspect = (box[2] * (width or 1)) / (box[3] * (height or 1))
                if lab is not None:
                    per_class[lab].append((size, aspect))
            else:
                size = None
            if lab is not None:
                class_images[lab].add(row)
            if kinds:
                issues.append(ObjectIssue(sample_ids[row], filepaths[row], lab, ids[k] if k < len(ids) else None,
                                          None if box is None else tuple(round(v, 6) for v in box),
                                          tuple(sorted(kinds, key=ISSUE_KINDS.index)),
                                          None if size is None else round(size, 2),
                                          round(overlap, 4) if "duplicate" in kinds and overlap is not None else None,
                                          agreement if set(kinds) & {"empty_mask", "mask_box_mismatch"} else None,
                                          getattr(shape, "grid", None)))
        present = sorted({lab for lab in labs if lab is not None})
        pairs.update((a, b) for n, a in enumerate(present) for b in present[n + 1:])
    issues.sort(key=lambda i: (min(ISSUE_KINDS.index(k) for k in i.kinds), i.filepath))
    tiny = Counter(i.label for i in issues if "tiny" in i.kinds)
    classes = tuple(_class_boxes(lab, per_class[lab], len(class_images[lab]), tiny[lab])
                    for lab in sorted(class_images))
    return ObjectsResult(issues=tuple(issues), classes=classes, n_images=len(sample_ids), n_objects=n_objects,
                         n_negative=n_negative, cooccurrence=tuple((a, b, n) for (a, b), n in pairs.most_common(20)),
                         min_box_side=float(min_box_side), duplicate_iou=float(duplicate_iou), n_masks=n_masks,
                         mask_iou=float(mask_iou), min_mask_fill=float(min_mask_fill))


def log_histogram(values: Any, edges: Sequence[float]) -> tuple[int, ...]:
    """Counts of ``values`` per bin of ``edges`` (ascending); values below the first edge count in the
    first bin, values from the last edge on in the last.

    Example:
        >>> log_histogram([0.5, 1.5, 3.0, 100.0], (1.0, 2.0, 4.0))
        (2, 2)
    """
    import numpy as np

    if len(edges) < 2:
        return ()
    inner = np.asarray(edges[1:-1], dtype=np.float64)
    index = np.searchsorted(inner, np.asarray(values, dtype=np.float64), side="right")
    return tuple(int(n) for n in np.bincount(index, minlength=len(edges) - 1))


def _class_boxes(label: str, shapes: list[tuple[float | None, float]], n_images: int, n_tiny: int) -> ClassBoxes:
    import numpy as np

    n = len(shapes)
    sizes = np.array([s for s, _ in shapes if s is not None], dtype=np.float64)
    aspects = np.array([a for _, a in shapes], dtype=np.float64)

    def shares(values: np.ndarray, band: Any) -> tuple[float, float, float]:
        if not len(values):
            return (0.0, 0.0, 0.0)
        counts = Counter(band(float(v)) for v in values)
        return tuple(round(counts[b] / len(values), 4) for b in range(3))  # type: ignore[return-value]

    pct = None if not len(sizes) else tuple(round(float(np.percentile(sizes, q)), 2) for q in (10, 50, 90))
    return ClassBoxes(label=label, n_instances=n, n_images=n_images, size_shares=shares(sizes, _size_band),
                      size_percentiles=pct, aspect_shares=shares(aspects, _aspect_band),  # type: ignore[arg-type]
                      median_aspect=round(float(np.median(aspects)), 3) if n else None, n_tiny=n_tiny,
                      size_hist=log_histogram(sizes, SIZE_BIN_EDGES) if len(sizes) else (),
                      aspect_hist=log_histogram(aspects, ASPECT_BIN_EDGES) if n else ())


@dataclass(frozen=True)
class ObjectOptions:
    """``--check-option objects.min_box_side=8`` (pixels), ``objects.duplicate_iou=0.9``, ``objects.mask_iou=0.6``,
    ``objects.min_mask_fill=0.05``."""

    min_box_side: float = 4.0
    duplicate_iou: float = 0.95
    mask_iou: float = 0.7
    min_mask_fill: float = 0.02

    def __post_init__(self) -> None:
        if self.min_box_side < 0:
            raise ValueError(f"min_box_side must be at least 0, not {self.min_box_side}")
        if not 0 < self.duplicate_iou <= 1:
            raise ValueError(f"duplicate_iou must be above 0 and at most 1, not {self.duplicate_iou}")
        for name in ("mask_iou", "min_mask_fill"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1, not {getattr(self, name)}")


BOXES = Requirement("object boxes", lambda i: i.task == "detection" and any(i.columns.label_lists),
                    "needs object boxes (a Detections or Polylines field)")
TAG = "wb:object_issue"


def _by_sample(r: ObjectsResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for i in r.issues:
        out[i.sample_id] += [f"{i.label}: {k}" for k in i.kinds]
    return dict(out)


def _by_object(r: ObjectsResult) -> dict[str, str]:
    """``{object id: "tiny,duplicate"}``: what is wrong with each flagged object that has an id."""
    return {i.object_id: ",".join(i.kinds) for i in r.issues if i.object_id}


@register_check(
    name="objects", title="objects", result=ObjectsResult, needs=(BOXES,), count_key="object_issues",
    writes=Writes(fields=(SampleField("object_issues", "wb_object_issues", _by_sample),),
                  tags=(SampleTag("object_issue", TAG, lambda r: set(_by_sample(r))),),
                  object_attrs=(ObjectAttr("object_issue", "wb_object_issue", _by_object),),
                  object_tags=(ObjectTag("object_issue", TAG, lambda r: set(_by_object(r))),),
                  patches=(PatchesView("object_issue_patches", "wb-object-issues-patches", TAG),),
                  views=(SavedView("object_issues", "wb-object-issues", TAG),)),
    gate=GateSpec("object-issues", "flagged objects", lambda r: r.n_findings,
                  total=lambda r, audit: max(r.n_objects, 1)),
    section="sections/objects.html.j2", options=ObjectOptions, absent_export={"objects": None},
    panel=PanelSpec("Objects", "workbench.panels.objects:objects_panel"), figures="workbench.render.figures:box_figures")
def run(inputs: CheckInputs, config: AuditConfig, options: ObjectOptions) -> ObjectsResult:
    """Every object's box against its image's size (read with the file's facts), and against its mask."""
    cols = inputs.columns
    boxes = cols.boxes or tuple(() for _ in cols.ids)
    return find_object_issues(cols.ids, cols.filepaths, cols.label_lists, boxes,
                              [(f.width, f.height) if f is not None else (None, None) for f in inputs.facts],
                              object_ids=cols.object_ids or None, min_box_side=options.min_box_side,
                              duplicate_iou=options.duplicate_iou, mask_shapes=cols.mask_shapes or None,
                              mask_iou=options.mask_iou, min_mask_fill=options.min_mask_fill)

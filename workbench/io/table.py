"""Turn a FiftyOne dataset into the plain table every check works on.

Columns: ``id``, ``filepath``, ``split``, ``label`` (image-level class or None),
``labels`` (list of object classes for detection; for segmentation, the classes present in
the image's mask), for detection ``boxes`` (each object's relative ``(x, y, w, h)``, aligned with
``labels``; polygons: the box around them) and ``object_ids``, when objects carry instance masks
``mask_shapes`` (each object's :class:`~workbench.checks.mask_box.MaskShape` or ``None``: the
tight box around its mask and the share of its box it fills, not the mask), for segmentation ``mask_problem``
(missing, unreadable, empty or unknown values; ``None``), ``tags`` and every user field of
scalar type (kept for bias breakdowns). With ``annotator_fields``, one column ``annotation:<field>``
per annotator (see :func:`annotator_columns`).
From here on the audit is plain data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from workbench._fo import PREFIX, fiftyone
from workbench.io.sources import SPLIT_NAMES

log = logging.getLogger(__name__)

_SKIP_FIELDS = {"id", "filepath", "tags", "metadata", "created_at", "last_modified_at"}


@dataclass(frozen=True)
class DatasetTable:
    """The table plus what it was read from."""

    frame: Any  # pandas.DataFrame
    task: str
    dataset_name: str
    source: str
    #: The ground-truth field read (``None``: the dataset has no label field).
    label_field: str | None = None
    #: The annotator fields' task (``classification``, ``detection``, ``segmentation``; "" without any).
    annotation_kind: str = ""


#: Values a mask uses for "no class" unless the dataset's mask targets name them: background, VOC's void.
_UNNAMED_BACKGROUND = (0, 255)


def _label_fields(dataset: Any) -> list[tuple[str, str]]:
    fo = fiftyone()
    found = []
    for name, field in dataset.get_field_schema(embedded_doc_type=None).items():
        if name.startswith(PREFIX):
            continue
        doc = getattr(field, "document_type", None)
        if doc is fo.Classification:
            found.append((name, "classification"))
        elif doc in (fo.Detections, fo.Polylines):  # boxes, or polygons (CVAT): object instances either way
            found.append((name, "detection"))
        elif doc is fo.Segmentation:
            found.append((name, "segmentation"))
    return found


def _object_list(dataset: Any, field: str) -> str:
    """The list attribute of a detection-task field: ``detections`` or ``polylines``."""
    fo = fiftyone()
    doc = getattr(dataset.get_field(field), "document_type", None)
    return "polylines" if doc is fo.Polylines else "detections"


def mask_classes(mask: Any, targets: dict | None) -> list[str]:
    """The classes present in a segmentation mask, named by the dataset's mask targets.

    Without a name, 0 (background) and 255 (VOC's void) are not classes; other values are
    named by their number. RGB masks are read as ``#rrggbb`` colours (black is background).

    Example:
        >>> mask_classes(np.array([[0, 1], [2, 2]]), {1: "road", 2: "car"})  # doctest: +SKIP
        ['car', 'road']
    """
    import numpy as np

    if mask is None:
        return []
    mask = np.asarray(mask)
    targets = {str(k).lower() if isinstance(k, str) else int(k): str(v) for k, v in (targets or {}).items()}
    if mask.ndim == 3:
        colours = np.unique(mask[..., :3].reshape(-1, 3), axis=0)
        values = ["#%02x%02x%02x" % tuple(int(c) for c in rgb) for rgb in colours]
        return sorted(targets.get(v, v) for v in values if v != "#000000" or v in targets)
    out = []
    for value in np.unique(mask).tolist():
        name = targets.get(int(value))
        if name is None and int(value) in _UNNAMED_BACKGROUND:
            continue
        if name is not None and int(value) == 0 and name.lower() in ("background", "bg", "_background_"):
            continue
        out.append(name if name is not None else str(value))
    return sorted(out)


def unknown_pixels(mask: Any, unknown: list[str]) -> Any:
    """Where ``mask`` holds the ``unknown`` values (numbers, or ``#rrggbb`` colours of an RGB mask), as a bool array.

    Example:
        >>> unknown_pixels(np.array([[0, 7], [7, 1]]), ["7"]).tolist()  # doctest: +SKIP
        [[False, True], [True, False]]
    """
    import numpy as np

    mask = np.asarray(mask)
    if mask.ndim == 3:
        codes = [tuple(int(c[k:k + 2], 16) for k in (1, 3, 5)) for c in unknown if c.startswith("#")]
        return np.any([(mask[..., :3] == code).all(axis=2) for code in codes], axis=0) if codes else \
            np.zeros(mask.shape[:2], bool)
    return np.isin(mask, [int(c) for c in unknown if c.lstrip("-").isdigit()])


def _segmentation_labels(dataset: Any, field: str) -> tuple[list[list[str]], list[str | None], list[Any]]:
    """Per sample, the classes present in its mask (unreadable or absent masks: none), what is
    wrong with the mask: ``missing``, ``unreadable``, ``empty`` (background only) or ``unknown values:
    7, 9`` (values the dataset's mask targets don't name), ``None`` when nothing is, and where the
    unknown values are (a :class:`~workbench.results.mask_grid.MaskGrid` over the image, else ``None``)."""
    from concurrent.futures import ThreadPoolExecutor

    from workbench.results.mask_grid import REGION_CELLS, mask_grid

    targets = dataset.mask_targets.get(field) or dataset.default_mask_targets or None

    def classes_of(seg: Any) -> tuple[list[str] | None, str | None, Any]:
        if seg is None or (getattr(seg, "mask", None) is None and not getattr(seg, "mask_path", None)):
            return [], "missing", None
        try:
            mask = seg.get_mask()
            classes = mask_classes(mask, targets)
        except (OSError, ValueError) as exc:
            log.debug("unreadable mask %s: %s", getattr(seg, "mask_path", None), exc)
            return None, "unreadable", None
        unknown = [c for c in classes if targets and c not in set(map(str, targets.values()))]
        region = mask_grid(unknown_pixels(mask, unknown), cells=REGION_CELLS) if unknown else None
        return classes, ("empty" if not classes else f"unknown values: {', '.join(unknown)}" if unknown else None), \
            region

    with ThreadPoolExecutor(max_workers=4) as pool:  # PNG decoding releases the GIL
        found = list(pool.map(classes_of, dataset.values(field)))
    unreadable = sum(c is None for c, _, _ in found)
    if unreadable:
        log.warning("%d segmentation masks could not be read; those images count as having no classes",
                    unreadable)
    return [c or [] for c, _, _ in found], [problem for _, problem, _ in found], [r for _, _, r in found]


def resolve_label_field(dataset: Any, label_field: str | None = None) -> tuple[str | None, str]:
    """Pick the ground-truth field and the task it implies."""
    fields = _label_fields(dataset)
    if label_field:
        for name, task in fields:
            if name == label_field:
                return name, task
        from workbench.errors import SourceError

        raise SourceError(f"dataset {dataset.name!r} has no Classification/Detections field {label_field!r}; "
                          f"label fields: {', '.join(n for n, _ in fields) or 'none'}")
    recorded = dataset.info.get("workbench", {}).get("label_field")
    for name, task in fields:
        if name == recorded:
            return name, task
    for preferred in ("ground_truth", "label", "labels"):
        for name, task in fields:
            if name == preferred:
                return name, task
    return (fields[0] if fields else (None, "classification"))


def _box(values: Any) -> tuple[float, float, float, float] | None:
    """FiftyOne's ``[x, y, w, h]`` (relative to the image) as floats; ``None`` when absent or malformed."""
    try:
        x, y, w, h = (float(v) for v in values)
    except (TypeError, ValueError):
        return None
    return (x, y, w, h)


def _box_around(shapes: Any) -> tuple[float, float, float, float] | None:
    """The relative ``[x, y, w, h]`` around a polyline's points (all its shapes)."""
    try:
        xs, ys = zip(*((float(x), float(y)) for shape in shapes for x, y in shape))
    except (TypeError, ValueError):
        return None
    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def split_from_tags(tags: list[str]) -> str | None:
    for tag in tags or ():
        split = SPLIT_NAMES.get(str(tag).lower())
        if split:
            return split
    return None


def to_table(dataset: Any, *, label_field: str | None = None, split_field: str | None = None,
             annotator_fields: tuple[str, ...] = ()) -> DatasetTable:
    """Read ``dataset`` (a FiftyOne dataset or view) into a :class:`DatasetTable`.

    The split comes from ``split_field`` when given, else from tags such as ``train``/``test``.
    ``annotator_fields`` are read by :func:`annotator_columns` (a missing or mixed field is an error).

    Example:
        >>> table = to_table(fo.load_dataset("workbench-demo"))  # doctest: +SKIP
        >>> table.frame[["filepath", "split", "label"]].head()  # doctest: +SKIP
    """
    import pandas as pd

    from workbench.io.instance_masks import read_mask_shapes

    field, task = resolve_label_field(dataset, label_field)
    ids, paths, tags = dataset.values(["id", "filepath", "tags"])
    frame = pd.DataFrame({"id": ids, "filepath": paths, "tags": tags})
    if split_field and split_field not in dataset.get_field_schema():
        from workbench.errors import SourceError

        scalar = sorted(n for n, f in dataset.get_field_schema().items() if type(f).__name__ in
                        ("StringField", "IntField", "BooleanField") and n not in ("id", "filepath")
                        and not n.startswith(PREFIX))
        raise SourceError(f"--split-field {split_field}: dataset {dataset.name!r} has no such field; its text and "
                          f"number fields: {', '.join(scalar) or 'none'} (without --split-field the split comes "
                          "from train/val/test tags)")
    if split_field:
        frame["split"] = [None if v is None else str(v) for v in dataset.values(split_field)]
    else:
        frame["split"] = [split_from_tags(t) for t in tags]
    frame["label"] = None
    frame["labels"] = [[] for _ in ids]
    if field and task == "classification":
        frame["label"] = dataset.values(f"{field}.label")
    elif field and task == "detection":
        objects = _object_list(dataset, field)
        frame["labels"] = [list(v or []) for v in dataset.values(f"{field}.{objects}.label")]
        frame["object_ids"] = [list(v or []) for v in dataset.values(f"{field}.{objects}.id")]
        if objects == "detections":
            frame["boxes"] = [[_box(b) for b in (v or [])] for v in dataset.values(f"{field}.detections.bounding_box")]
            shapes = read_mask_shapes(dataset, field)
            if shapes is not None:
                frame["mask_shapes"] = shapes
        else:  # polygons: the box around each polyline's points
            frame["boxes"] = [[_box_around(shapes) for shapes in (v or [])]
                              for v in dataset.values(f"{field}.polylines.points")]
    elif field and task == "segmentation":
        frame["labels"], frame["mask_problem"], frame["mask_region"] = _segmentation_labels(dataset, field)

    schema = dataset.get_field_schema()
    fo = fiftyone()
    scalar = (fo.StringField, fo.IntField, fo.BooleanField, fo.FloatField)
    for name, fdef in schema.items():
        if name in _SKIP_FIELDS or name.startswith(PREFIX) or name == field or name == split_field:
            continue
        if isinstance(fdef, scalar):
            frame[name] = dataset.values(name)
    annotation_kind = ""
    if annotator_fields:
        annotation_kind, columns = annotator_columns(dataset, annotator_fields)
        for name, values in columns.items():
            frame[ANNOTATION_PREFIX + name] = values
    info = dataset.info.get("workbench", {})
    return DatasetTable(frame=frame, task=task, dataset_name=dataset.name,
                        source=str(info.get("source", "")), label_field=field,
                        annotation_kind=annotation_kind)


#: Table columns holding an annotator's labels: ``annotation:<field>``.
ANNOTATION_PREFIX = "annotation:"


def annotator_columns(dataset: Any, fields: tuple[str, ...]) -> tuple[str, dict[str, list[Any]]]:
    """The task of the annotator ``fields`` and, per field, each sample's annotation: the class
    (classification), a tuple of ``(class, (x, y, w, h) or None)`` (detection; polygons: the box around
    them) or the mask's path or array (segmentation); ``None`` where the sample has no such label.

    Raises:
        AnnotatorFieldError: fewer than two fields, a field the dataset lacks or that holds no
            Classification/Detections/Polylines/Segmentation, or fields of different tasks.

    Example:
        >>> annotator_columns(dataset, ("ann_a", "ann_b"))  # doctest: +SKIP
        ('classification', {'ann_a': ['cat', None, ...], 'ann_b': [...]})
    """
    from workbench.errors import AnnotatorFieldError

    if len(set(fields)) < 2:
        raise AnnotatorFieldError(f"--annotators needs two or more different label fields, got {', '.join(fields)}; "
                                  "agreement compares annotators with each other")
    kinds = dict(_label_fields(dataset))
    missing = [f for f in fields if f not in dataset.get_field_schema()]
    if missing:
        raise AnnotatorFieldError(f"dataset {dataset.name!r} has no field {', '.join(map(repr, missing))}; label "
                                  f"fields: {', '.join(kinds) or 'none'}")
    wrong = [f for f in fields if f not in kinds]
    if wrong:
        raise AnnotatorFieldError(f"annotator field {', '.join(map(repr, wrong))} holds no Classification, "
                                  "Detections, Polylines or Segmentation labels")
    tasks = {f: kinds[f] for f in fields}
    if len(set(tasks.values())) > 1:
        raise AnnotatorFieldError("annotator fields must hold the same kind of label; got "
                                  + ", ".join(f"{f}: {t}" for f, t in tasks.items()))
    task = tasks[fields[0]]
    out: dict[str, list[Any]] = {}
    for f in fields:
        if task == "classification":
            out[f] = list(dataset.values(f"{f}.label"))
        elif task == "segmentation":
            out[f] = [None if s is None else (s.mask_path or s.mask) for s in dataset.values(f)]
        else:
            objects = _object_list(dataset, f)
            labels = dataset.values(f"{f}.{objects}.label")
            boxes = (dataset.values(f"{f}.detections.bounding_box") if objects == "detections"
                     else [None if v is None else [_box_around(s) for s in v]
                           for v in dataset.values(f"{f}.polylines.points")])
            out[f] = [None if labs is None else tuple((lab, _box(b) if objects == "detections" else b)
                                                      for lab, b in zip(labs, bxs or [None] * len(labs)))
                      for labs, bxs in zip(labels, boxes)]
    return task, out

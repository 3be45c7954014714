"""Turn a FiftyOne dataset into the plain table every check works on.

Columns: ``id``, ``filepath``, ``split``, ``label`` (image-level class or None),
``labels`` (list of object classes for detection), ``tags`` and every user field of
scalar type (kept for bias breakdowns). From here on the audit is plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench._fo import PREFIX, fiftyone
from workbench.io.sources import SPLIT_NAMES

_SKIP_FIELDS = {"id", "filepath", "tags", "metadata", "created_at", "last_modified_at"}


@dataclass(frozen=True)
class DatasetTable:
    """The table plus what it was read from."""

    frame: Any  # pandas.DataFrame
    task: str
    label_field: str | None
    dataset_name: str
    source: str


def _label_fields(dataset: Any) -> list[tuple[str, str]]:
    fo = fiftyone()
    found = []
    for name, field in dataset.get_field_schema(embedded_doc_type=None).items():
        if name.startswith(PREFIX):
            continue
        doc = getattr(field, "document_type", None)
        if doc is fo.Classification:
            found.append((name, "classification"))
        elif doc is fo.Detections:
            found.append((name, "detection"))
        elif doc is fo.Segmentation:
            found.append((name, "segmentation"))
    return found


def resolve_label_field(dataset: Any, label_field: str | None = None) -> tuple[str | None, str]:
    """Pick the ground-truth field and the task it implies."""
    fields = _label_fields(dataset)
    if label_field:
        for name, task in fields:
            if name == label_field:
                return name, task
        raise ValueError(f"dataset {dataset.name!r} has no Classification/Detections field {label_field!r}; "
                         f"label fields: {[n for n, _ in fields] or 'none'}")
    recorded = dataset.info.get("workbench", {}).get("label_field")
    for name, task in fields:
        if name == recorded:
            return name, task
    for preferred in ("ground_truth", "label", "labels"):
        for name, task in fields:
            if name == preferred:
                return name, task
    return (fields[0] if fields else (None, "classification"))


def split_from_tags(tags: list[str]) -> str | None:
    for tag in tags or ():
        split = SPLIT_NAMES.get(str(tag).lower())
        if split:
            return split
    return None


def to_table(dataset: Any, *, label_field: str | None = None, split_field: str | None = None) -> DatasetTable:
    """Read ``dataset`` (a FiftyOne dataset or view) into a :class:`DatasetTable`.

    The split comes from ``split_field`` when given, else from tags such as ``train``/``test``.

    Example:
        >>> table = to_table(fo.load_dataset("workbench-demo"))  # doctest: +SKIP
        >>> table.frame[["filepath", "split", "label"]].head()  # doctest: +SKIP
    """
    import pandas as pd

    field, task = resolve_label_field(dataset, label_field)
    ids, paths, tags = dataset.values(["id", "filepath", "tags"])
    frame = pd.DataFrame({"id": ids, "filepath": paths, "tags": tags})
    if split_field:
        frame["split"] = [None if v is None else str(v) for v in dataset.values(split_field)]
    else:
        frame["split"] = [split_from_tags(t) for t in tags]
    frame["label"] = None
    frame["labels"] = [[] for _ in ids]
    if field and task == "classification":
        frame["label"] = dataset.values(f"{field}.label")
    elif field and task == "detection":
        frame["labels"] = [list(v or []) for v in dataset.values(f"{field}.detections.label")]

    schema = dataset.get_field_schema()
    fo = fiftyone()
    scalar = (fo.StringField, fo.IntField, fo.BooleanField, fo.FloatField)
    for name, fdef in schema.items():
        if name in _SKIP_FIELDS or name.startswith(PREFIX) or name == field or name == split_field:
            continue
        if isinstance(fdef, scalar):
            frame[name] = dataset.values(name)
    info = dataset.info.get("workbench", {})
    return DatasetTable(frame=frame, task=task, label_field=field, dataset_name=dataset.name,
                        source=str(info.get("source", "")))
